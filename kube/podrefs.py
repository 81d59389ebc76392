"""What a pod refers to by name: Secrets, ConfigMaps, claims, its ServiceAccount (Kubernetes' podutil visitors).

The Node authorizer grants a kubelet exactly these objects of the pods bound to it; the kubelet reads the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["configmap_names", "containers", "pvc_names", "secret_names", "service_account_name"]

Obj = dict[str, Any]


def containers(spec: Obj) -> Iterator[Obj]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(field) or []


def _projected(volume: Obj, kind: str) -> Iterator[Obj]:
    for source in (volume.get("projected") or {}).get("sources") or []:
        ref = source.get(kind)
        if ref:
            yield ref


def secret_names(pod: Obj) -> set[str]:
    spec = pod.get("spec") or {}
    names = {ref.get("name", "") for ref in spec.get("imagePullSecrets") or []}
    for volume in spec.get("volumes") or []:
        names.add((volume.get("secret") or {}).get("secretName", ""))
        names.update(ref.get("name", "") for ref in _projected(volume, "secret"))
        for plugin in ("csi", "cephfs", "rbd", "iscsi", "flexVolume", "azureFile", "scaleIO", "storageos"):
            source = volume.get(plugin) or {}
            for key in ("secretRef", "nodePublishSecretRef"):
                names.add((source.get(key) or {}).get("name", ""))
        names.add((volume.get("azureFile") or {}).get("secretName", ""))
    for container in containers(spec):
        for env in container.get("env") or []:
            names.add(((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name", ""))
        for source in container.get("envFrom") or []:
            names.add((source.get("secretRef") or {}).get("name", ""))
    names.discard("")
    return names


def configmap_names(pod: Obj) -> set[str]:
    spec = pod.get("spec") or {}
    names: set[str] = set()
    for volume in spec.get("volumes") or []:
        names.add((volume.get("configMap") or {}).get("name", ""))
        names.update(ref.get("name", "") for ref in _projected(volume, "configMap"))
    for container in containers(spec):
        for env in container.get("env") or []:
            names.add(((env.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name", ""))
        for source in container.get("envFrom") or []:
            names.add((source.get("configMapRef") or {}).get("name", ""))
    names.discard("")
    return names


def pvc_names(pod: Obj) -> set[str]:
    """Claims the pod mounts, including those generic ephemeral volumes create (named `<pod>-<volume>`)."""
    spec, name = pod.get("spec") or {}, (pod.get("metadata") or {}).get("name", "")
    names: set[str] = set()
    for volume in spec.get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            names.add(claim)
        elif volume.get("ephemeral") is not None:
            names.add(f"{name}-{volume.get('name', '')}")
    return names


def service_account_name(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("serviceAccountName") or "default"
