"""The columns users know from `kubectl get`, per kind: one definition used by the apiserver's Table
responses (what the real kubectl prints) and by `klite`.

Each column is (name, type, priority, cell function); priority 1 columns show only with `-o wide`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kube import csr as kcsr
from kube import timeutil

__all__ = ["Column", "columns_for", "node_status", "pod_ready", "pod_restarts", "pod_status"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | date (kubectl's column types)
    priority: int
    cell: Callable[[Obj], Any]
    format: str = ""
    description: str = ""


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _age(obj: Obj) -> str:
    return timeutil.age(obj["metadata"].get("creationTimestamp"))


NAME = Column("Name", "string", 0, _name, "name", "Name must be unique within a namespace.")
AGE = Column("Age", "string", 0, _age, "", "CreationTimestamp is the time the object was created.")


# ---------------------------------------------------------------- pods

def pod_status(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods` (kubectl's printPod logic)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    spec = pod.get("spec") or {}
    init_total = len(spec.get("initContainers") or [])
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = f"Init:{term.get('reason') or 'ExitCode:' + str(term.get('exitCode'))}"
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = f"Init:{wait['reason']}"
        else:
            reason = f"Init:{i}/{init_total}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{total}"


def pod_restarts(pod: Obj) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


POD_COLUMNS = [
    NAME,
    Column("Ready", "string", 0, pod_ready, "", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", 0, pod_status, "", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", 0, pod_restarts, "", "The number of times the containers in this pod restarted."),
    AGE,
    Column("IP", "string", 1, lambda p: (p.get("status") or {}).get("podIP") or "<none>", "",
           "IP address allocated to the pod."),
    Column("Node", "string", 1, lambda p: (p.get("spec") or {}).get("nodeName") or "<none>", "",
           "Name of the Node this pod runs on."),
    Column("Nominated Node", "string", 1,
           lambda p: (p.get("status") or {}).get("nominatedNodeName") or "<none>", "", "Nominated node."),
    Column("Readiness Gates", "string", 1,
           lambda p: ", ".join(g.get("conditionType", "") for g in (p.get("spec") or {}).get("readinessGates") or [])
           or "<none>", "", "Readiness gates."),
]


# ---------------------------------------------------------------- nodes

def node_status(node: Obj) -> str:
    ready = "Unknown"
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = {"True": "Ready", "False": "NotReady"}.get(cond.get("status"), "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in node["metadata"].get("labels") or {} if k.startswith(prefix))
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(kind: str) -> Callable[[Obj], str]:
    def cell(node: Obj) -> str:
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("type") == kind:
                return str(addr.get("address", "<none>"))
        return "<none>"

    return cell


def _node_info(field: str) -> Callable[[Obj], str]:
    return lambda n: ((n.get("status") or {}).get("nodeInfo") or {}).get(field) or "<unknown>"


NODE_COLUMNS = [
    NAME,
    Column("Status", "string", 0, node_status, "", "The status of the node"),
    Column("Roles", "string", 0, _node_roles, "", "The roles of the node"),
    AGE,
    Column("Version", "string", 0, _node_info("kubeletVersion"), "", "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", 1, _node_address("InternalIP"), "", "Internal IP of the node."),
    Column("External-IP", "string", 1, _node_address("ExternalIP"), "", "External IP of the node."),
    Column("OS-Image", "string", 1, _node_info("osImage"), "", "OS image reported by the node."),
    Column("Kernel-Version", "string", 1, _node_info("kernelVersion"), "", "Kernel version reported by the node."),
    Column("Container-Runtime", "string", 1, _node_info("containerRuntimeVersion"), "",
           "Container runtime version reported by the node."),
]


# ---------------------------------------------------------------- other core kinds

NAMESPACE_COLUMNS = [
    NAME,
    Column("Status", "string", 0, lambda n: (n.get("status") or {}).get("phase") or "Active", "",
           "The status of the namespace"),
    AGE,
]


def _event_object(ev: Obj) -> str:
    ref = ev.get("involvedObject") or {}
    kind = (ref.get("kind") or "").lower()
    return f"{kind}/{ref['name']}" if ref.get("name") else kind


def _since(timestamp: str | None) -> str:
    return timeutil.age(timestamp) if timestamp else "<unknown>"


def _event_first_seen(ev: Obj) -> str:
    return _since(ev.get("firstTimestamp") or ev.get("eventTime"))


def _event_last_seen(ev: Obj) -> str:
    """printEvent's LAST SEEN: the series' last observation, else lastTimestamp, else the first sighting."""
    if ev.get("series"):
        return _since(ev["series"].get("lastObservedTime"))
    return _since(ev["lastTimestamp"]) if ev.get("lastTimestamp") else _event_first_seen(ev)


def _event_count(ev: Obj) -> int:
    if ev.get("series"):
        return int(ev["series"].get("count") or 0)
    return int(ev.get("count") or 1)


def _event_source(ev: Obj) -> str:
    """formatEventSource: the source, or the reporting controller and instance of a new-style event."""
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


#: Events as printed from their core/v1 form; events.k8s.io/v1 Events are printed from it too (apiserver.tables).
EVENT_COLUMNS = [
    Column("Last Seen", "string", 0, _event_last_seen, "", "Time when last event occurred."),
    Column("Type", "string", 0, lambda e: e.get("type") or "", "", "Type of this event."),
    Column("Reason", "string", 0, lambda e: e.get("reason") or "", "", "Reason why this event was generated."),
    Column("Object", "string", 0, _event_object, "", "The object this event is about."),
    Column("Subobject", "string", 1, lambda e: (e.get("involvedObject") or {}).get("fieldPath") or "", "",
           "The part of the object this event is about."),
    Column("Source", "string", 1, _event_source, "", "The component reporting this event."),
    Column("Message", "string", 0, lambda e: (e.get("message") or "").strip(), "", "A human-readable message."),
    Column("First Seen", "string", 1, _event_first_seen, "", "Time when this event was first recorded."),
    Column("Count", "string", 1, _event_count, "", "The number of times this event has occurred."),
    Column("Name", "string", 1, _name, "name", "Name must be unique within a namespace."),
]

LEASE_COLUMNS = [
    NAME,
    Column("Holder", "string", 0, lambda lease: (lease.get("spec") or {}).get("holderIdentity") or "", "",
           "The holder of the lease."),
    AGE,
]

def _col(name: str, cell: Callable[[Obj], Any], priority: int = 0, kind: str = "string",
         description: str = "") -> Column:
    return Column(name, kind, priority, cell, "", description)


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _template_containers(template: Obj) -> list[Obj]:
    return (template.get("spec") or {}).get("containers") or []


def _selector_text(selector: Obj | None) -> str:
    """A LabelSelector as kubectl prints it: `app=web,tier in (a,b)`; `<none>` when empty."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op, values = expr["operator"], ",".join(expr.get("values") or [])
        parts.append({"In": f"{expr['key']} in ({values})", "NotIn": f"{expr['key']} notin ({values})",
                      "Exists": expr["key"], "DoesNotExist": f"!{expr['key']}"}.get(op, expr["key"]))
    return ",".join(parts) or "<none>"


def _map_text(mapping: Obj | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (mapping or {}).items()) or "<none>"


def _wide_template_columns(template_of: Callable[[Obj], Obj], selector: Callable[[Obj], str]) -> list[Column]:
    return [
        _col("Containers", lambda o: ",".join(c["name"] for c in _template_containers(template_of(o))), 1),
        _col("Images", lambda o: ",".join(c.get("image", "") for c in _template_containers(template_of(o))), 1),
        _col("Selector", selector, 1),
    ]


def _template(obj: Obj) -> Obj:
    return _spec(obj).get("template") or {}


def _workload_selector(obj: Obj) -> str:
    return _selector_text(_spec(obj).get("selector"))


def _ready_of(obj: Obj, total: int | None = None) -> str:
    want = _spec(obj).get("replicas", 0) if total is None else total
    return f"{_status(obj).get('readyReplicas', 0)}/{want}"


DEPLOYMENT_COLUMNS = [
    NAME,
    _col("Ready", _ready_of, description="Number of the pod with ready state"),
    _col("Up-to-date", lambda d: _status(d).get("updatedReplicas", 0), kind="integer",
         description="Total number of non-terminated pods targeted by this deployment that have the desired "
                     "template spec."),
    _col("Available", lambda d: _status(d).get("availableReplicas", 0), kind="integer",
         description="Total number of available pods (ready for at least minReadySeconds) targeted by this "
                     "deployment."),
    AGE,
    *_wide_template_columns(_template, _workload_selector),
]

REPLICASET_COLUMNS = [
    NAME,
    _col("Desired", lambda r: _spec(r).get("replicas", 0), kind="integer",
         description="Number of desired pods."),
    _col("Current", lambda r: _status(r).get("replicas", 0), kind="integer",
         description="Number of actual replicas."),
    _col("Ready", lambda r: _status(r).get("readyReplicas", 0), kind="integer",
         description="Number of pods with ready state."),
    AGE,
    *_wide_template_columns(_template, _workload_selector),
]

DAEMONSET_COLUMNS = [
    NAME,
    _col("Desired", lambda d: _status(d).get("desiredNumberScheduled", 0), kind="integer"),
    _col("Current", lambda d: _status(d).get("currentNumberScheduled", 0), kind="integer"),
    _col("Ready", lambda d: _status(d).get("numberReady", 0), kind="integer"),
    _col("Up-to-date", lambda d: _status(d).get("updatedNumberScheduled", 0), kind="integer"),
    _col("Available", lambda d: _status(d).get("numberAvailable", 0), kind="integer"),
    _col("Node Selector", lambda d: _map_text((_template(d).get("spec") or {}).get("nodeSelector"))),
    AGE,
    *_wide_template_columns(_template, _workload_selector),
]

STATEFULSET_COLUMNS = [
    NAME,
    _col("Ready", _ready_of, description="Number of the pod with ready state"),
    AGE,
    *_wide_template_columns(_template, lambda s: "")[:2],
]


def _job_status(job: Obj) -> str:
    conditions = {c["type"]: c["status"] for c in _status(job).get("conditions") or []}
    for kind, text in (("Complete", "Complete"), ("Failed", "Failed"), ("Suspended", "Suspended"),
                       ("FailureTarget", "FailureTarget"), ("SuccessCriteriaMet", "SuccessCriteriaMet")):
        if conditions.get(kind) == "True":
            return text
    return "Running"


def _job_completions(job: Obj) -> str:
    completions = _spec(job).get("completions")
    succeeded = _status(job).get("succeeded", 0)
    if completions is None:
        parallelism = _spec(job).get("parallelism", 1)
        return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    return f"{succeeded}/{completions}"


def _job_duration(job: Obj) -> str:
    status = _status(job)
    start = status.get("startTime")
    if not start:
        return ""
    end = status.get("completionTime")
    return timeutil.human_duration(timeutil.seconds_between(start, end) if end else timeutil.seconds_since(start))


JOB_COLUMNS = [
    NAME,
    _col("Status", _job_status, description="Status of the job."),
    _col("Completions", _job_completions, description="The completion status of the job."),
    _col("Duration", _job_duration, description="Time elapsed between the start and completion of the job."),
    AGE,
    *_wide_template_columns(_template, _workload_selector),
]

CRONJOB_COLUMNS = [
    NAME,
    _col("Schedule", lambda c: _spec(c).get("schedule", "")),
    _col("Timezone", lambda c: _spec(c).get("timeZone") or "<none>"),
    _col("Suspend", lambda c: str(bool(_spec(c).get("suspend"))), kind="boolean"),
    _col("Active", lambda c: len(_status(c).get("active") or []), kind="integer"),
    _col("Last Schedule", lambda c: timeutil.age(_status(c).get("lastScheduleTime")) if _status(c).get(
        "lastScheduleTime") else "<none>"),
    AGE,
    *_wide_template_columns(lambda c: ((_spec(c).get("jobTemplate") or {}).get("spec") or {}).get("template") or {},
                            lambda c: _selector_text(((_spec(c).get("jobTemplate") or {}).get("spec") or {}).get(
                                "selector")))[:2],
]


def _service_ports(svc: Obj) -> str:
    ports = _spec(svc).get("ports") or []
    if not ports:
        return "<none>"
    return ",".join(f"{p['port']}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
                    for p in ports)


def _external_ip(svc: Obj) -> str:
    spec = _spec(svc)
    if spec.get("type") == "ExternalName":
        return spec.get("externalName") or "<none>"
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    addresses = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
    if addresses:
        return ",".join(a for a in addresses if a)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


SERVICE_COLUMNS = [
    NAME,
    _col("Type", lambda s: _spec(s).get("type", "ClusterIP")),
    _col("Cluster-IP", lambda s: _spec(s).get("clusterIP") or "<none>"),
    _col("External-IP", _external_ip),
    _col("Port(s)", _service_ports),
    AGE,
    _col("Selector", lambda s: _map_text(_spec(s).get("selector")), 1),
]


def _endpoints(ep: Obj) -> str:
    pairs = [f"{a['ip']}:{p['port']}" for subset in ep.get("subsets") or []
             for a in subset.get("addresses") or [] for p in (subset.get("ports") or [{"port": ""}])]
    if not pairs:
        return "<none>"
    return ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")


ENDPOINTS_COLUMNS = [NAME, _col("Endpoints", _endpoints), AGE]
CONFIGMAP_COLUMNS = [NAME, _col("Data", lambda c: len(c.get("data") or {}) + len(c.get("binaryData") or {}),
                                kind="integer"), AGE]
SECRET_COLUMNS = [NAME, _col("Type", lambda s: s.get("type", "")), _col("Data", lambda s: len(s.get("data") or {}),
                                                                        kind="integer"), AGE]
SERVICEACCOUNT_COLUMNS = [NAME, _col("Secrets", lambda s: len(s.get("secrets") or []), kind="integer"), AGE]


def _access_modes(obj: Obj) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in _spec(obj).get("accessModes") or [])


def _claim(pv: Obj) -> str:
    ref = _spec(pv).get("claimRef") or {}
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""


PERSISTENTVOLUME_COLUMNS = [
    NAME,
    _col("Capacity", lambda p: (_spec(p).get("capacity") or {}).get("storage", "")),
    _col("Access Modes", _access_modes),
    _col("Reclaim Policy", lambda p: _spec(p).get("persistentVolumeReclaimPolicy", "")),
    _col("Status", lambda p: _status(p).get("phase", "")),
    _col("Claim", _claim),
    _col("StorageClass", lambda p: _spec(p).get("storageClassName") or "<unset>"),
    _col("VolumeAttributesClass", lambda p: _spec(p).get("volumeAttributesClassName") or "<unset>"),
    _col("Reason", lambda p: _status(p).get("reason", "")),
    AGE,
    _col("VolumeMode", lambda p: _spec(p).get("volumeMode", ""), 1),
]

PERSISTENTVOLUMECLAIM_COLUMNS = [
    NAME,
    _col("Status", lambda p: _status(p).get("phase", "")),
    _col("Volume", lambda p: _spec(p).get("volumeName", "")),
    _col("Capacity", lambda p: (_status(p).get("capacity") or {}).get("storage", "")),
    _col("Access Modes", lambda p: _access_modes({"spec": {"accessModes": _status(p).get("accessModes")}})),
    _col("StorageClass", lambda p: _spec(p).get("storageClassName") or "<unset>"),
    _col("VolumeAttributesClass", lambda p: _spec(p).get("volumeAttributesClassName") or "<unset>"),
    AGE,
    _col("VolumeMode", lambda p: _spec(p).get("volumeMode", ""), 1),
]


def _default_class(sc: Obj) -> str:
    default = (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
    return f"{sc['metadata']['name']} (default)" if default == "true" else sc["metadata"]["name"]


STORAGECLASS_COLUMNS = [
    Column("Name", "string", 0, _default_class, "name"),
    _col("Provisioner", lambda s: s.get("provisioner", "")),
    _col("ReclaimPolicy", lambda s: s.get("reclaimPolicy", "Delete")),
    _col("VolumeBindingMode", lambda s: s.get("volumeBindingMode", "Immediate")),
    _col("AllowVolumeExpansion", lambda s: str(bool(s.get("allowVolumeExpansion"))).lower()),
    AGE,
]

PRIORITYCLASS_COLUMNS = [
    NAME,
    _col("Value", lambda p: p.get("value", 0), kind="integer"),
    _col("Global-Default", lambda p: str(bool(p.get("globalDefault"))).lower()),
    AGE,
    _col("PreemptionPolicy", lambda p: p.get("preemptionPolicy", "")),
]

def _ingress_hosts(ing: Obj) -> str:
    """formatHosts: the first three rules' hosts, `*` when none names one."""
    rules = _spec(ing).get("rules") or []
    hosts = [r["host"] for r in rules[:3] if r.get("host")]
    if not hosts:
        return "*"
    return ",".join(hosts) + (f" + {len(rules) - 3} more..." if len(rules) > 3 else "")


def _ingress_address(ing: Obj) -> str:
    """ingressLoadBalancerStatusStringer (unclipped, as the server prints it): each ingress point's IP or name."""
    points = ((_status(ing).get("loadBalancer") or {}).get("ingress")) or []
    return ",".join(sorted({p.get("ip") or p.get("hostname") for p in points if p.get("ip") or p.get("hostname")}))


INGRESS_COLUMNS = [
    NAME,
    _col("Class", lambda i: _spec(i).get("ingressClassName") or "<none>",
         description="The name of the IngressClass resource that should be used for additional configuration"),
    _col("Hosts", _ingress_hosts, description="Hosts that incoming requests are matched against before the ingress "
                                              "rule"),
    _col("Address", _ingress_address, description="Address is a list containing ingress points for the "
                                                   "load-balancer"),
    _col("Ports", lambda i: "80, 443" if _spec(i).get("tls") else "80",
         description="Ports of TLS configurations that open"),
    AGE,
]


def _ingress_class_parameters(ic: Obj) -> str:
    params = _spec(ic).get("parameters")
    if not params:
        return "<none>"
    kind = params.get("kind", "") + ("." + params["apiGroup"] if params.get("apiGroup") is not None else "")
    return f"{kind}/{params.get('name', '')}"


INGRESSCLASS_COLUMNS = [
    NAME,
    _col("Controller", lambda i: _spec(i).get("controller", ""),
         description="Controller that is responsible for handling this class"),
    _col("Parameters", _ingress_class_parameters, description="A reference to a resource with additional parameters"),
    AGE,
]

NETWORKPOLICY_COLUMNS = [
    NAME,
    _col("Pod-Selector", lambda n: _selector_text(_spec(n).get("podSelector")),
         description="Selects the pods to which this NetworkPolicy object applies."),
    AGE,
]

#: Kubernetes prints no age for these.
CSISTORAGECAPACITY_COLUMNS = [
    NAME,
    _col("StorageClassName", lambda c: c.get("storageClassName", ""),
         description="The name of the StorageClass that the reported capacity applies to."),
    _col("Capacity", lambda c: c.get("capacity") or "<unset>",
         description="Capacity is the value reported by the CSI driver in its GetCapacityResponse."),
]

CREATED_AT = _col("Created At", lambda o: o["metadata"].get("creationTimestamp", ""), kind="date")


def _subjects(kind: str) -> Callable[[Obj], str]:
    def cell(binding: Obj) -> str:
        names = [(f"{s.get('namespace')}/{s['name']}" if kind == "ServiceAccount" else s["name"])
                 for s in binding.get("subjects") or [] if s.get("kind") == kind]
        return ", ".join(names)
    return cell


BINDING_COLUMNS = [
    NAME,
    _col("Role", lambda b: f"{(b.get('roleRef') or {}).get('kind')}/{(b.get('roleRef') or {}).get('name')}"),
    AGE,
    _col("Users", _subjects("User"), 1),
    _col("Groups", _subjects("Group"), 1),
    _col("ServiceAccounts", _subjects("ServiceAccount"), 1),
]

CONTROLLERREVISION_COLUMNS = [
    NAME,
    _col("Controller", lambda r: next((f"{o['kind'].lower()}.{o['apiVersion'].split('/')[0]}/{o['name']}"
                                      for o in r["metadata"].get("ownerReferences") or [] if o.get("controller")),
                                     "<none>")),
    _col("Revision", lambda r: r.get("revision", 0), kind="integer"),
    AGE,
]

def _requested_duration(csr: Obj) -> str:
    seconds = _spec(csr).get("expirationSeconds")
    return "<none>" if seconds is None else timeutil.human_duration(seconds)


CERTIFICATESIGNINGREQUEST_COLUMNS = [
    NAME,
    AGE,
    _col("SignerName", lambda c: _spec(c).get("signerName") or ""),
    _col("Requestor", lambda c: _spec(c).get("username") or ""),
    _col("RequestedDuration", _requested_duration),
    _col("Condition", kcsr.state),
]

_BY_KIND: dict[str, list[Column]] = {
    "Pod": POD_COLUMNS,
    "Node": NODE_COLUMNS,
    "Namespace": NAMESPACE_COLUMNS,
    "Event": EVENT_COLUMNS,
    "Lease": LEASE_COLUMNS,
    "Deployment": DEPLOYMENT_COLUMNS,
    "ReplicaSet": REPLICASET_COLUMNS,
    "DaemonSet": DAEMONSET_COLUMNS,
    "StatefulSet": STATEFULSET_COLUMNS,
    "ControllerRevision": CONTROLLERREVISION_COLUMNS,
    "Job": JOB_COLUMNS,
    "CronJob": CRONJOB_COLUMNS,
    "Service": SERVICE_COLUMNS,
    "Endpoints": ENDPOINTS_COLUMNS,
    "ConfigMap": CONFIGMAP_COLUMNS,
    "Secret": SECRET_COLUMNS,
    "ServiceAccount": SERVICEACCOUNT_COLUMNS,
    "PersistentVolume": PERSISTENTVOLUME_COLUMNS,
    "PersistentVolumeClaim": PERSISTENTVOLUMECLAIM_COLUMNS,
    "StorageClass": STORAGECLASS_COLUMNS,
    "CSIStorageCapacity": CSISTORAGECAPACITY_COLUMNS,
    "Ingress": INGRESS_COLUMNS,
    "IngressClass": INGRESSCLASS_COLUMNS,
    "NetworkPolicy": NETWORKPOLICY_COLUMNS,
    "PriorityClass": PRIORITYCLASS_COLUMNS,
    "LimitRange": [NAME, CREATED_AT],
    "ResourceQuota": [NAME, AGE],
    "Role": [NAME, CREATED_AT],
    "ClusterRole": [NAME, CREATED_AT],
    "RoleBinding": BINDING_COLUMNS,
    "ClusterRoleBinding": BINDING_COLUMNS,
    "CertificateSigningRequest": CERTIFICATESIGNINGREQUEST_COLUMNS,
}


def columns_for(kind: str) -> list[Column]:
    """The kind's columns; NAME and AGE for kinds without their own."""
    return _BY_KIND.get(kind, [NAME, AGE])
