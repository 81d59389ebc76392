"""Builders for scheduler unit tests: nodes, pods, a cache with pods placed, and a profile over it."""

from __future__ import annotations

from typing import Any

from scheduler.cache import Cache
from scheduler.config import build_profiles, default_config, parse
from scheduler.framework import CycleState, Handle, NodeInfo, PodInfo
from scheduler.profile import Profile
from scheduler.queue import Nominator

Obj = dict[str, Any]


def node(name: str = "n1", cpu: str = "4", memory: str = "8Gi", pods: str = "110", ready: str | None = "True",
         labels: dict[str, str] | None = None, taints: list[Obj] | None = None, unschedulable: bool = False,
         images: list[Obj] | None = None, **extra: str) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **extra}
    status: Obj = {"allocatable": alloc, "capacity": alloc}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    if images:
        status["images"] = images
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": status}


def pod(name: str = "p", cpu: str | None = None, memory: str | None = None, *, namespace: str = "default",
        labels: dict[str, str] | None = None, node_name: str | None = None, priority: int | None = None,
        **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    extended = spec.pop("requests", {})
    container: Obj = {"name": "c", "image": spec.pop("image", "busybox"),
                      "resources": {"requests": {**requests, **extended}}}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    body: Obj = {"containers": [container], **spec}
    if node_name:
        body["nodeName"] = node_name
    if priority is not None:
        body["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                         "labels": labels or {}, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": body, "status": {}}


def info(p: Obj) -> PodInfo:
    return PodInfo(p, int((p.get("spec") or {}).get("priority") or 0))


def cluster(*nodes: Obj, pods: list[Obj] = ()) -> Cache:
    """A cache with these nodes and these (bound) pods."""
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(info(p))
    return cache


def profile(cache: Cache, config: Obj | None = None, namespaces: dict[str, dict[str, str]] | None = None,
            default_selector: Any = None, nominator: Nominator | None = None) -> Profile:
    cfg = parse(config) if config else default_config()
    handle = Handle(cache, lambda ns: (namespaces or {}).get(ns, {}), default_selector)
    built = build_profiles(cfg, handle, nominator if nominator is not None else Nominator())
    prof = built[cfg.profiles[0].scheduler_name]
    prof.rand = lambda: 0.0  # deterministic tie-breaks: the first of equals
    return prof


def run_filter(plugin: Any, p: Obj, n: NodeInfo | Obj) -> Any:
    """PreFilter then Filter for one pod and node; None means it fits (SKIP counts as fits)."""
    node_info = n if isinstance(n, NodeInfo) else NodeInfo(n)
    state = CycleState()
    pod_info = info(p)
    if hasattr(plugin, "pre_filter"):
        status = plugin.pre_filter(state, pod_info)
        if status is not None and status.code.name == "SKIP":
            return None
        if status is not None:
            return status
    return plugin.filter(state, pod_info, node_info)
