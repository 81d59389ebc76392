"""`klite describe`: a readable page per object, shaped like kubectl's, ending with the object's Events.

Pods and Nodes get kubectl's dedicated layouts; every other type (whatever `kube.resources` adds) gets the
generic one: its fields as an indented outline. Lines are written with tabs and aligned at the end by a tiny
tabwriter, which is how kubectl's describers line up their values.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from cli.context import CliError, Session, api_error_message, err
from cli.get import Request, parse_targets
from kube import errors, quantity, resources, timeutil
from kube.resources import ResourceType

__all__ = ["Writer", "describe", "describe_object", "tabwrite"]

Obj = dict[str, Any]
PADDING = 2  # kubectl's describe tabwriter padding


def tabwrite(lines: list[str]) -> str:
    """Align tab-separated cells like Go's text/tabwriter: a column's width is set per run of consecutive lines
    that have a cell in that column."""
    cells = [line.split("\t") for line in lines]
    widths: list[list[int]] = [[0] * len(row) for row in cells]
    column = 0
    while any(len(row) - 1 > column for row in cells):
        i = 0
        while i < len(cells):
            if len(cells[i]) - 1 <= column:
                i += 1
                continue
            j = i
            while j < len(cells) and len(cells[j]) - 1 > column:
                j += 1
            width = max(len(cells[k][column]) for k in range(i, j)) + PADDING
            for k in range(i, j):
                widths[k][column] = width
            i = j
        column += 1
    out = []
    for row, row_widths in zip(cells, widths, strict=True):
        text = "".join(cell.ljust(row_widths[c]) for c, cell in enumerate(row[:-1])) + row[-1]
        out.append(text.rstrip())
    return "\n".join(out)


class Writer:
    """Collects `Key:<tab>value` lines at an indent level (two spaces each), as kubectl's PrefixWriter."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def field(self, level: int, key: str, value: Any = None) -> None:
        indent = "  " * level
        if value is None:
            self.lines.append(f"{indent}{key}:")
        else:
            self.lines.append(f"{indent}{key}:\t{value}")

    def line(self, level: int, *cells: Any) -> None:
        self.lines.append("  " * level + "\t".join(str(c) for c in cells))

    def mapping(self, level: int, key: str, values: dict[str, Any] | None, sep: str = "=") -> None:
        """Labels-style: first entry beside the key, the rest below it in the value column; `<none>` if empty."""
        items = sorted((values or {}).items())
        if not items:
            self.field(level, key, "<none>")
            return
        for i, (k, v) in enumerate(items):
            text = f"{k}{sep}{v}" if sep == "=" else f"{k}{sep} {v}"
            if i == 0:
                self.field(level, key, text)
            else:
                self.lines.append("  " * level + f"\t{text}")

    def render(self) -> str:
        return tabwrite(self.lines)


# ---------------------------------------------------------------- helpers

def _time(text: str | None) -> str:
    """RFC 1123 with numeric zone, kubectl's describe format."""
    if not text:
        return "<unset>"
    try:
        return timeutil.parse(text).strftime("%a, %d %b %Y %H:%M:%S %z")
    except ValueError:
        return text


def _annotations(w: Writer, meta: Obj) -> None:
    annotations = dict(meta.get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    w.mapping(0, "Annotations", annotations, sep=":")


def _common(w: Writer, obj: Obj, namespaced: bool) -> None:
    meta = obj.get("metadata") or {}
    w.field(0, "Name", meta.get("name", ""))
    if namespaced:
        w.field(0, "Namespace", meta.get("namespace", ""))
    w.mapping(0, "Labels", meta.get("labels"))
    _annotations(w, meta)


_INITIALISMS = {"Api", "Cidr", "Cpu", "Dns", "Http", "Https", "Id", "Ip", "Ips", "Os", "Tcp", "Tls", "Udp", "Uid",
                "Url"}


def _title(key: str) -> str:
    """`resourceVersion` -> `Resource Version`, `podIP` -> `Pod IP`: kubectl's generic describer's field names."""
    words, word = [], ""
    for i, ch in enumerate(key):
        rest = key[i + 1:]
        starts_word = rest[:1].islower() and not (rest[:1] == "s" and not rest[1:2].islower())  # not "IPs"
        if ch.isupper() and word and (key[i - 1].islower() or starts_word):
            words.append(word)
            word = ""
        word += ch
    words.append(word)
    words = [w[:1].upper() + w[1:] for w in words if w]
    return " ".join(w.upper() if w in _INITIALISMS else w for w in words)


def _outline(w: Writer, level: int, value: Any) -> None:
    """Nested fields as an indented outline (the generic describer)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                w.field(level, _title(key))
                _outline(w, level + 1, item)
            else:
                w.field(level, _title(key), _scalar(item))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _outline(w, level, item)
            else:
                w.line(level, _scalar(item))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None or value == {} or value == []:
        return "<none>" if value is None else ""
    return str(value)


# ---------------------------------------------------------------- pods

def _state(w: Writer, level: int, title: str, state: Obj | None) -> None:
    if not state:
        if title == "State":
            w.field(level, title, "Waiting")
        return
    if "running" in state:
        w.field(level, title, "Running")
        w.field(level + 1, "Started", _time((state["running"] or {}).get("startedAt")))
    elif "waiting" in state:
        w.field(level, title, "Waiting")
        if (state["waiting"] or {}).get("reason"):
            w.field(level + 1, "Reason", state["waiting"]["reason"])
        if (state["waiting"] or {}).get("message"):
            w.field(level + 1, "Message", state["waiting"]["message"])
    elif "terminated" in state:
        term = state["terminated"] or {}
        w.field(level, title, "Terminated")
        if term.get("reason"):
            w.field(level + 1, "Reason", term["reason"])
        if term.get("message"):
            w.field(level + 1, "Message", term["message"])
        w.field(level + 1, "Exit Code", term.get("exitCode", 0))
        if term.get("signal"):
            w.field(level + 1, "Signal", term["signal"])
        w.field(level + 1, "Started", _time(term.get("startedAt")))
        w.field(level + 1, "Finished", _time(term.get("finishedAt")))


def _containers(w: Writer, title: str, containers: list[Obj], statuses: list[Obj]) -> None:
    if not containers:
        return
    w.field(0, title)
    by_name = {s.get("name"): s for s in statuses}
    for c in containers:
        status = by_name.get(c.get("name")) or {}
        w.field(1, c.get("name", ""))
        w.field(2, "Container ID", status.get("containerID", ""))
        w.field(2, "Image", c.get("image", ""))
        w.field(2, "Image ID", status.get("imageID", ""))
        ports = c.get("ports") or []
        port_text = ", ".join(f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}" for p in ports) or "<none>"
        host_text = ", ".join(f"{p.get('hostPort') or 0}/{p.get('protocol') or 'TCP'}" for p in ports) or "<none>"
        w.field(2, "Ports" if len(ports) > 1 else "Port", port_text)
        w.field(2, "Host Ports" if len(ports) > 1 else "Host Port", host_text)
        for key, label in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                w.field(2, label)
                for part in c[key]:
                    w.line(3, part)
        _state(w, 2, "State", status.get("state"))
        if status.get("lastState"):
            _state(w, 2, "Last State", status.get("lastState"))
        w.field(2, "Ready", str(bool(status.get("ready"))))
        w.field(2, "Restart Count", status.get("restartCount", 0))
        res = c.get("resources") or {}
        for key, label in (("limits", "Limits"), ("requests", "Requests")):
            if res.get(key):
                w.field(2, label)
                for name, value in sorted(res[key].items()):
                    w.field(3, name, value)
        for probe in ("liveness", "readiness", "startup"):
            if c.get(f"{probe}Probe"):
                w.field(2, probe.capitalize(), _probe(c[f"{probe}Probe"]))
        env = c.get("env") or []
        if env:
            w.field(2, "Environment")
            for e in env:
                w.field(3, e.get("name", ""), e.get("value", "") if "value" in e else "<set from a source>")
        else:
            w.field(2, "Environment", "<none>")
        mounts = c.get("volumeMounts") or []
        if mounts:
            w.field(2, "Mounts")
            for m in mounts:
                mode = "ro" if m.get("readOnly") else "rw"
                w.line(3, f"{m.get('mountPath')} from {m.get('name')} ({mode})")
        else:
            w.field(2, "Mounts", "<none>")


def _probe(probe: Obj) -> str:
    if probe.get("httpGet"):
        h = probe["httpGet"]
        scheme = (h.get("scheme") or "HTTP").lower()
        what = f"http-get {scheme}://{h.get('host', '')}:{h.get('port')}{h.get('path', '')}"
    elif probe.get("tcpSocket"):
        what = f"tcp-socket :{probe['tcpSocket'].get('port')}"
    elif probe.get("exec"):
        what = f"exec {probe['exec'].get('command')}"
    else:
        what = "unknown"
    return (f"{what} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
            f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")


def _qos(pod: Obj) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    requests = [(c.get("resources") or {}).get("requests") or {} for c in containers]
    limits = [(c.get("resources") or {}).get("limits") or {} for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(
        lim.get(r) and (req.get(r) or lim.get(r)) == lim.get(r)
        for req, lim in zip(requests, limits, strict=True) for r in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def describe_pod(w: Writer, pod: Obj) -> None:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    w.field(0, "Name", meta.get("name", ""))
    w.field(0, "Namespace", meta.get("namespace", ""))
    w.field(0, "Priority", spec.get("priority", 0))
    w.field(0, "Service Account", spec.get("serviceAccountName") or "default")
    node = spec.get("nodeName")
    w.field(0, "Node", f"{node}/{status['hostIP']}" if node and status.get("hostIP") else node or "<none>")
    if status.get("startTime"):
        w.field(0, "Start Time", _time(status["startTime"]))
    w.mapping(0, "Labels", meta.get("labels"))
    _annotations(w, meta)
    if meta.get("deletionTimestamp"):
        w.field(0, "Status", f"Terminating (lasts {timeutil.age(meta['deletionTimestamp'])})")
        w.field(0, "Termination Grace Period", f"{meta.get('deletionGracePeriodSeconds', 0)}s")
    else:
        w.field(0, "Status", status.get("phase") or "Unknown")
    if status.get("reason"):
        w.field(0, "Reason", status["reason"])
    if status.get("message"):
        w.field(0, "Message", status["message"])
    w.field(0, "IP", status.get("podIP", ""))
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    if ips:
        w.field(0, "IPs")
        for ip in ips:
            w.field(1, "IP", ip.get("ip", ""))
    else:
        w.field(0, "IPs", "<none>")
    _containers(w, "Init Containers", spec.get("initContainers") or [], status.get("initContainerStatuses") or [])
    _containers(w, "Containers", spec.get("containers") or [], status.get("containerStatuses") or [])
    conditions = status.get("conditions") or []
    if conditions:
        w.field(0, "Conditions")
        w.line(1, "Type", "Status")
        for cond in conditions:
            w.line(1, cond.get("type", ""), cond.get("status", ""))
    volumes = spec.get("volumes") or []
    if volumes:
        w.field(0, "Volumes")
        for v in volumes:
            w.field(1, v.get("name", ""))
            source = next(((k, s) for k, s in v.items() if k != "name"), None)
            if source:
                w.field(2, "Type", source[0])
                if isinstance(source[1], dict):
                    for k, val in source[1].items():
                        w.field(2, _title(k), _scalar(val))
    else:
        w.field(0, "Volumes", "<none>")
    w.field(0, "QoS Class", _qos(pod))
    w.mapping(0, "Node-Selectors", spec.get("nodeSelector"))
    tolerations = spec.get("tolerations") or []
    if tolerations:
        for i, t in enumerate(tolerations):
            text = t.get("key", "")
            if t.get("value"):
                text += f"={t['value']}"
            if t.get("effect"):
                text += f":{t['effect']}"
            if t.get("operator") == "Exists":
                text += " op=Exists"
            if t.get("tolerationSeconds") is not None:
                text += f" for {t['tolerationSeconds']}s"
            if i == 0:
                w.field(0, "Tolerations", text)
            else:
                w.line(0, "", text)
    else:
        w.field(0, "Tolerations", "<none>")


# ---------------------------------------------------------------- nodes

def _sum(pods: list[Obj], section: str, resource: str) -> int:
    total = 0
    convert = quantity.cpu_millis if resource == "cpu" else quantity.memory_bytes
    for pod in pods:
        for c in (pod.get("spec") or {}).get("containers") or []:
            value = ((c.get("resources") or {}).get(section) or {}).get(resource)
            if value is not None:
                with contextlib.suppress(ValueError):  # the apiserver validated it; never fail a describe
                    total += convert(value)
    return total


def _amount(resource: str, value: int) -> str:
    if resource == "cpu":
        return f"{value}m" if value % 1000 else str(value // 1000)
    return quantity.format_bytes(value) if value else "0"


def _percent(value: int, capacity: int) -> str:
    return f"({value * 100 // capacity}%)" if capacity else "(0%)"


def describe_node(w: Writer, node: Obj, pods: list[Obj]) -> None:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    w.field(0, "Name", meta.get("name", ""))
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in meta.get("labels") or {} if k.startswith(prefix) and k != prefix)
    w.field(0, "Roles", ",".join(roles) or "<none>")
    w.mapping(0, "Labels", meta.get("labels"))
    _annotations(w, meta)
    w.field(0, "CreationTimestamp", _time(meta.get("creationTimestamp")))
    taints = spec.get("taints") or []
    texts = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}" for t in taints]
    w.field(0, "Taints", texts[0] if texts else "<none>")
    for text in texts[1:]:
        w.line(0, "", text)
    w.field(0, "Unschedulable", str(bool(spec.get("unschedulable"))).lower())
    conditions = status.get("conditions") or []
    w.field(0, "Conditions")
    w.line(1, "Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message")
    w.line(1, "----", "------", "-----------------", "------------------", "------", "-------")
    for c in conditions:
        w.line(1, c.get("type", ""), c.get("status", ""), _time(c.get("lastHeartbeatTime")),
               _time(c.get("lastTransitionTime")), c.get("reason", ""), c.get("message", ""))
    w.field(0, "Addresses")
    for addr in status.get("addresses") or []:
        w.field(1, addr.get("type", ""), addr.get("address", ""))
    for key, label in (("capacity", "Capacity"), ("allocatable", "Allocatable")):
        w.field(0, label)
        for name, value in sorted((status.get(key) or {}).items()):
            w.field(1, name, value)
    info = status.get("nodeInfo") or {}
    if info:
        w.field(0, "System Info")
        for key, value in info.items():
            w.field(1, _title(key), value)
    if spec.get("podCIDR"):
        w.field(0, "PodCIDR", spec["podCIDR"])
    w.field(0, "Non-terminated Pods", f"({len(pods)} in total)")
    allocatable = status.get("allocatable") or {}
    alloc_cpu = quantity.cpu_millis(allocatable.get("cpu") or 0)
    alloc_mem = quantity.memory_bytes(allocatable.get("memory") or 0)
    if pods:
        w.line(1, "Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests", "Memory Limits", "Age")
        w.line(1, "---------", "----", "------------", "----------", "---------------", "-------------", "---")
        for pod in pods:
            cells = []
            for section, resource, cap in (("requests", "cpu", alloc_cpu), ("limits", "cpu", alloc_cpu),
                                           ("requests", "memory", alloc_mem), ("limits", "memory", alloc_mem)):
                value = _sum([pod], section, resource)
                cells.append(f"{_amount(resource, value)} {_percent(value, cap)}")
            pm = pod.get("metadata") or {}
            w.line(1, pm.get("namespace", ""), pm.get("name", ""), *cells, timeutil.age(pm.get("creationTimestamp")))
    w.field(0, "Allocated resources")
    w.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
    w.line(1, "Resource", "Requests", "Limits")
    w.line(1, "--------", "--------", "------")
    for resource, cap in (("cpu", alloc_cpu), ("memory", alloc_mem)):
        req, lim = _sum(pods, "requests", resource), _sum(pods, "limits", resource)
        w.line(1, resource, f"{_amount(resource, req)} {_percent(req, cap)}",
               f"{_amount(resource, lim)} {_percent(lim, cap)}")


def describe_generic(w: Writer, obj: Obj, rt: ResourceType) -> None:
    _common(w, obj, rt.namespaced)
    w.field(0, "API Version", obj.get("apiVersion") or rt.api_version)
    w.field(0, "Kind", obj.get("kind") or rt.kind)
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in ("name", "namespace", "labels", "annotations", "managedFields")}
    if meta:
        w.field(0, "Metadata")
        _outline(w, 1, meta)
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    _outline(w, 0, rest)


# ---------------------------------------------------------------- events

def _event_time(ev: Obj) -> str:
    return ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp") or ""


def _event_age(ev: Obj) -> str:
    last = timeutil.age(_event_time(ev)) if _event_time(ev) else "<unknown>"
    count = int(ev.get("count") or (ev.get("series") or {}).get("count") or 1)
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    if count > 1 and first:
        return f"{last} (x{count} over {timeutil.age(first)})"
    return last


def _event_source(ev: Obj) -> str:
    source = ev.get("source") or {}
    return source.get("component") or ev.get("reportingComponent") or ev.get("reportingController") or ""


def events_section(w: Writer, events: list[Obj]) -> None:
    if not events:
        w.field(0, "Events", "<none>")
        return
    w.field(0, "Events")
    w.line(1, "Type", "Reason", "Age", "From", "Message")
    w.line(1, "----", "------", "----", "----", "-------")
    for ev in sorted(events, key=_event_sort_key):
        w.line(1, ev.get("type", ""), ev.get("reason", ""), _event_age(ev), _event_source(ev),
               " ".join((ev.get("message") or "").split()))


def _event_sort_key(ev: Obj) -> datetime:
    text = _event_time(ev)
    try:
        return timeutil.parse(text)
    except ValueError:
        return datetime.min.replace(tzinfo=timeutil.parse("2000-01-01T00:00:00Z").tzinfo)


async def _events(session: Session, rt: ResourceType, obj: Obj) -> list[Obj]:
    """The object's events, as kubectl finds them: by involved name and namespace, then kind and uid when the
    event names them (recorders that only saw a listed item may leave the kind out)."""
    meta = obj.get("metadata") or {}
    selector = f"involvedObject.name={meta.get('name')}"
    namespace = meta.get("namespace") if rt.namespaced else None
    if namespace:
        selector += f",involvedObject.namespace={namespace}"
    try:
        listed = await session.client.list(resources.EVENTS, namespace, field_selector=selector)
    except (errors.NotFound, errors.Forbidden):
        return []  # like kubectl: a describe without events is still a describe
    uid = meta.get("uid")

    def ours(ev: Obj) -> bool:
        ref = ev.get("involvedObject") or {}
        return ref.get("kind") in (None, "", rt.kind) and (not uid or not ref.get("uid") or ref["uid"] == uid)

    return [e for e in listed.get("items") or [] if ours(e)]


async def describe_object(session: Session, rt: ResourceType, obj: Obj) -> str:
    """The whole page for one object (events included)."""
    w = Writer()
    if rt.kind == "Pod" and rt.group == "":
        describe_pod(w, obj)
    elif rt.kind == "Node" and rt.group == "":
        selector = (f"spec.nodeName={obj['metadata']['name']},status.phase!=Succeeded,status.phase!=Failed")
        pods = (await session.client.list(resources.PODS, None, field_selector=selector)).get("items") or []
        describe_node(w, obj, pods)
    else:
        describe_generic(w, obj, rt)
    if rt is not resources.EVENTS:
        events_section(w, await _events(session, rt, obj))
    return w.render()


async def _objects(session: Session, req: Request, selector: str | None, all_namespaces: bool) -> tuple[
        list[Obj], bool]:
    namespace = session.namespace if req.rt.namespaced and not all_namespaces else None
    if not req.names:
        listed = await session.client.list(req.rt, namespace, label_selector=selector)
        return list(listed.get("items") or []), False
    found, missing = [], False
    for name in req.names:
        try:
            found.append(await session.client.get(req.rt, name, namespace))
            continue
        except errors.NotFound as exc:
            listed = await session.client.list(req.rt, namespace)
            prefixed = [o for o in listed.get("items") or [] if o["metadata"]["name"].startswith(name)]
            if not prefixed:
                err(api_error_message(exc))
                missing = True
            found += prefixed
    return found, missing


async def describe(session: Session, args: list[str], selector: str | None = None,
                   all_namespaces: bool = False) -> int:
    """Print every matching object's page, separated by blank lines; 1 if a named one was missing."""
    requests = parse_targets(args)
    if selector and any(r.names for r in requests):
        raise CliError("name cannot be provided when a selector is specified")
    pages, missing = [], False
    for req in requests:
        objects, lost = await _objects(session, req, selector, all_namespaces)
        missing = missing or lost
        for obj in objects:
            pages.append(await describe_object(session, req.rt, obj))
    if pages:
        print("\n\n\n".join(pages))
    elif not missing:
        where = f" in {session.namespace} namespace" if any(r.rt.namespaced for r in requests) and not \
            all_namespaces else ""
        err(f"No resources found{where}.")
    return 1 if missing else 0

