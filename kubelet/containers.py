"""Turning a Pod's container spec into Docker create arguments — pure functions, no Docker calls.

Kept apart from `kubelet.runtime` so the translation (command/args, env with fieldRef, resourceFieldRef,
envFrom and `$(VAR)` expansion, service variables, limits and cpu shares, ports, security context, the
namespaces a container shares with its sandbox, volume mounts) is unit-tested without an engine.
"""

from __future__ import annotations

import math
import re
from typing import Any

from kube import quantity

__all__ = [
    "ConfigError", "Sources", "container_config", "env_references", "expand", "field_value", "mount_specs",
    "resolve_env", "resource_value", "sandbox_config",
]

Obj = dict[str, Any]
Sources = dict[tuple[str, str], dict[str, str] | None]

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """The container cannot be configured (e.g. an env source that does not exist): CreateContainerConfigError."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, the rest stays as written."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(sub, text)


def field_value(pod: Obj, path: str, pod_ip: str, host_ip: str) -> str:
    """A fieldRef's value (env and downwardAPI volumes)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise ConfigError(f"unsupported fieldRef {path!r}")


def resource_value(pod: Obj, default_container: str, ref: Obj, allocatable: dict[str, str] | None = None) -> str:
    """A resourceFieldRef's value, rounded up in units of its divisor. An unset limit is the node's
    allocatable amount (as on Kubernetes), an unset request 0."""
    name = ref.get("containerName") or default_container
    spec = pod["spec"]
    container = next((c for c in [*spec.get("containers", []), *spec.get("initContainers", [])]
                      if c["name"] == name), None)
    if container is None:
        raise ConfigError(f"resourceFieldRef: no container named {name!r}")
    kind, _, resource = ref.get("resource", "").partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"resourceFieldRef: unsupported resource {ref.get('resource')!r}")
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    if value is None and kind == "limits":
        value = (allocatable or {}).get(resource)
    divisor = quantity.parse(ref.get("divisor") or "1")
    if value is None or divisor == 0:
        return "0"
    return str(math.ceil(quantity.parse(value) / divisor))


def env_references(container: Obj) -> set[tuple[str, str]]:
    """The ("configmap" | "secret", name) pairs the container's env and envFrom read."""
    refs: set[tuple[str, str]] = set()
    for source in container.get("envFrom") or []:
        if (source.get("configMapRef") or {}).get("name"):
            refs.add(("configmap", source["configMapRef"]["name"]))
        if (source.get("secretRef") or {}).get("name"):
            refs.add(("secret", source["secretRef"]["name"]))
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if (source.get("configMapKeyRef") or {}).get("name"):
            refs.add(("configmap", source["configMapKeyRef"]["name"]))
        if (source.get("secretKeyRef") or {}).get("name"):
            refs.add(("secret", source["secretKeyRef"]["name"]))
    return refs


def _key_value(pod: Obj, kind: str, ref: Obj, sources: Sources) -> str | None:
    data = sources.get((kind, ref.get("name", "")))
    if data is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind} "{ref.get("name")}" not found')
    if ref.get("key") not in data:
        if ref.get("optional"):
            return None
        kind_name = "ConfigMap" if kind == "configmap" else "Secret"
        raise ConfigError(f"couldn't find key {ref.get('key')} in {kind_name} "
                          f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
    return data[ref["key"]]


def resolve_env(
    pod: Obj, container: Obj, *, pod_ip: str, host_ip: str, sources: Sources | None = None,
    service_env: dict[str, str] | None = None, allocatable: dict[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment: the service variables, then envFrom, then env in spec order (later
    entries able to refer to earlier ones, and win). `sources` holds the data of the ConfigMaps and Secrets
    it reads (None: not found)."""
    sources = sources or {}
    env: dict[str, str] = dict(service_env or {})
    for source in container.get("envFrom") or []:
        kind = "configmap" if source.get("configMapRef") else "secret"
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        data = sources.get((kind, ref.get("name", "")))
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind} "{ref.get("name")}" not found')
        prefix = source.get("prefix") or ""
        env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        source = var.get("valueFrom")
        if source is None:
            env[name] = expand(str(var.get("value") or ""), env)
        elif source.get("fieldRef"):
            env[name] = field_value(pod, source["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif source.get("resourceFieldRef"):
            env[name] = resource_value(pod, container["name"], source["resourceFieldRef"], allocatable)
        else:
            kind = "configmap" if source.get("configMapKeyRef") else "secret"
            value = _key_value(pod, kind, source.get("configMapKeyRef") or source.get("secretKeyRef") or {},
                               sources)
            if value is not None:
                env[name] = value
    return env


def _capabilities(names: list[str]) -> list[str]:
    return [n[4:] if n.upper().startswith("CAP_") else n for n in names]


def mount_specs(container: Obj, env: dict[str, str]) -> list[tuple[str, str, bool, str]]:
    """(volume name, mount path, read-only, subPath) of each volumeMount, with subPathExpr expanded."""
    out = []
    for mount in container.get("volumeMounts") or []:
        sub = mount.get("subPath") or ""
        if mount.get("subPathExpr"):
            sub = expand(mount["subPathExpr"], env)
        out.append((mount["name"], mount["mountPath"], bool(mount.get("readOnly")), sub))
    return out


def container_config(
    pod: Obj,
    container: Obj,
    *,
    sandbox_id: str,
    pod_ip: str,
    host_ip: str,
    sources: Sources | None = None,
    service_env: dict[str, str] | None = None,
    allocatable: dict[str, str] | None = None,
    mounts: list[Obj] | None = None,
    env: dict[str, str] | None = None,
) -> Obj:
    """Keyword arguments for `DockerRuntime.create` of one app container joined to the pod's sandbox.

    `env` is the resolved environment when the caller already has it; `mounts` are Docker mount objects
    (volumes, /etc/hosts, resolv.conf, the termination-message file)."""
    if env is None:
        env = resolve_env(pod, container, pod_ip=pod_ip, host_ip=host_ip, sources=sources,
                          service_env=service_env, allocatable=allocatable)
    spec = pod["spec"]
    command = [expand(str(a), env) for a in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    kwargs: Obj = {
        "entrypoint": command or None,
        "command": args or None,
        "environment": [f"{k}={v}" for k, v in env.items()],
        "working_dir": container.get("workingDir") or None,
        "network_mode": f"container:{sandbox_id}",
        "ipc_mode": "host" if spec.get("hostIPC") else f"container:{sandbox_id}",
        "tty": bool(container.get("tty")) or None,
        "stdin_open": bool(container.get("stdin")) or None,
        "stdin_once": bool(container.get("stdin") and container.get("stdinOnce")) or None,
        "mounts": mounts or None,
    }
    if spec.get("hostPID"):
        kwargs["pid_mode"] = "host"
    elif spec.get("shareProcessNamespace"):
        kwargs["pid_mode"] = f"container:{sandbox_id}"
    if command and not args:
        kwargs["command"] = []  # a command replaces the image's entrypoint and its default args too
    if limits.get("cpu"):
        kwargs["nano_cpus"] = quantity.cpu_millis(limits["cpu"]) * 1_000_000
    # cpu shares from the request (a limit alone is also the request); none at all is BestEffort: 2 shares
    request_cpu = requests.get("cpu") or limits.get("cpu")
    kwargs["cpu_shares"] = max(2, quantity.cpu_millis(request_cpu) * 1024 // 1000) if request_cpu else 2
    if limits.get("memory"):
        kwargs["mem_limit"] = quantity.memory_bytes(limits["memory"])
        kwargs["memswap_limit"] = kwargs["mem_limit"]  # no swap beyond the limit, as Kubernetes does
    pod_security = spec.get("securityContext") or {}
    security = container.get("securityContext") or {}
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if user is not None:
        kwargs["user"] = f"{user}:{group}" if group is not None else str(user)
    groups = [str(g) for g in pod_security.get("supplementalGroups") or []]
    if pod_security.get("fsGroup") is not None:
        groups.append(str(pod_security["fsGroup"]))
    if groups:
        kwargs["group_add"] = groups
    if security.get("readOnlyRootFilesystem"):
        kwargs["read_only"] = True
    caps = security.get("capabilities") or {}
    if caps.get("add"):
        kwargs["cap_add"] = _capabilities(caps["add"])
    if caps.get("drop"):
        kwargs["cap_drop"] = _capabilities(caps["drop"])
    if security.get("privileged"):
        kwargs["privileged"] = True
    if security.get("allowPrivilegeEscalation") is False:
        kwargs["security_opt"] = ["no-new-privileges"]
    return kwargs


def sandbox_config(pod: Obj, cluster_domain: str = "cluster.local") -> Obj:
    """Keyword arguments for the pod's sandbox: the namespaces it holds (network, IPC, and PID when shared),
    hostname and domain, pod-level sysctls, and the host ports of every container."""
    spec = pod["spec"]
    meta = pod["metadata"]
    hostname = (spec.get("hostname") or meta["name"])[:63].rstrip("-.")
    kwargs: Obj = {"ipc_mode": "host" if spec.get("hostIPC") else "shareable"}
    if spec.get("hostPID"):
        kwargs["pid_mode"] = "host"
    if spec.get("hostNetwork"):
        kwargs["network_mode"] = "host"
        return kwargs
    kwargs["hostname"] = hostname
    if spec.get("subdomain"):
        kwargs["domainname"] = f"{spec['subdomain']}.{meta.get('namespace') or 'default'}.svc.{cluster_domain}"
    sysctls = {s["name"]: str(s.get("value", "")) for s in (spec.get("securityContext") or {}).get("sysctls") or []}
    if sysctls:
        kwargs["sysctls"] = sysctls
    ports: list[tuple[int, str]] = []
    bindings: dict[str, Any] = {}
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for port in container.get("ports") or []:
            if not port.get("hostPort"):
                continue
            proto = (port.get("protocol") or "TCP").lower()
            ports.append((int(port["containerPort"]), proto))
            bindings[f"{port['containerPort']}/{proto}"] = (port.get("hostIP") or "", int(port["hostPort"]))
    if ports:
        kwargs["ports"] = ports
        kwargs["port_bindings"] = bindings
    return kwargs
