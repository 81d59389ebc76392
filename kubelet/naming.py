"""How the kubelet names and labels the Docker containers it makes, and how it reads them back.

The labels are the kubelet's only memory: a restarted kubelet finds its pods' containers through them
(`io.kubelite.node.name` keeps several kubelets on one engine apart), and `klite down` removes by them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = [
    "ATTEMPT", "CONTAINER_NAME", "CONTAINER_TYPE", "HASH", "MANAGED", "NODE_NAME", "POD_NAME", "POD_NAMESPACE",
    "POD_UID", "SANDBOX_ID", "SANDBOX_NAME", "TYPE_CONTAINER", "TYPE_EPHEMERAL", "TYPE_INIT", "TYPE_SANDBOX",
    "container_labels",
    "docker_name",
    "node_filter", "pod_filter", "sanitize_node_name", "spec_hash",
]

MANAGED = "io.kubelite.managed"
NODE_NAME = "io.kubelite.node.name"
POD_UID = "io.kubelite.pod.uid"
POD_NAMESPACE = "io.kubelite.pod.namespace"
POD_NAME = "io.kubelite.pod.name"
CONTAINER_NAME = "io.kubelite.container.name"
CONTAINER_TYPE = "io.kubelite.container.type"
ATTEMPT = "io.kubelite.container.attempt"
HASH = "io.kubelite.container.hash"  # of the container's spec: a changed spec (a new image) means a restart
SANDBOX_ID = "io.kubelite.sandbox.id"  # the sandbox a container joined: init containers re-run in a new one

SANDBOX_NAME = "POD"
TYPE_SANDBOX = "sandbox"
TYPE_CONTAINER = "container"
TYPE_INIT = "init"
TYPE_EPHEMERAL = "ephemeral"

_DOCKER_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]")


def spec_hash(container: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:12]


def container_labels(node: str, pod: dict[str, Any], container: str, attempt: int,
                     spec: dict[str, Any] | None = None, *, init: bool = False, ephemeral: bool = False,
                     sandbox_id: str | None = None) -> dict[str, str]:
    """Every label a container of `pod` carries; `container` is SANDBOX_NAME for the sandbox, `spec` (an app,
    init or ephemeral container's spec) adds its hash, and `sandbox_id` the sandbox it joins."""
    meta = pod["metadata"]
    labels = {
        MANAGED: "true",
        NODE_NAME: node,
        POD_UID: meta["uid"],
        POD_NAMESPACE: meta["namespace"],
        POD_NAME: meta["name"],
        CONTAINER_NAME: container,
        CONTAINER_TYPE: (TYPE_SANDBOX if container == SANDBOX_NAME else TYPE_INIT if init
                         else TYPE_EPHEMERAL if ephemeral else TYPE_CONTAINER),
        ATTEMPT: str(attempt),
    }
    if spec is not None:
        labels[HASH] = spec_hash(spec)
    if sandbox_id:
        labels[SANDBOX_ID] = sandbox_id
    return labels


def docker_name(pod: dict[str, Any], container: str, attempt: int) -> str:
    """`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, as dockershim named them (unique per attempt)."""
    meta = pod["metadata"]
    name = f"k8s_{container}_{meta['name']}_{meta['namespace']}_{meta['uid']}_{attempt}"
    return _DOCKER_NAME_BAD.sub("-", name)


def node_filter(node: str) -> dict[str, list[str]]:
    """Docker list filters for every container this node's kubelet made."""
    return {"label": [f"{MANAGED}=true", f"{NODE_NAME}={node}"]}


def pod_filter(node: str, uid: str) -> dict[str, list[str]]:
    return {"label": [f"{MANAGED}=true", f"{NODE_NAME}={node}", f"{POD_UID}={uid}"]}


def sanitize_node_name(hostname: str) -> str:
    """A hostname as a valid node name: lowercase DNS-1123 subdomain, at most 253 characters."""
    name = re.sub(r"[^a-z0-9.-]+", "-", hostname.lower())
    name = re.sub(r"\.{2,}", ".", name).strip("-.")
    return name[:253].rstrip("-.") or "localhost"
