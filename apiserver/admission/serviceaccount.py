"""ServiceAccount: a new pod runs as a service account ("default" unless it names one; the deprecated
`serviceAccount` field mirrors `serviceAccountName`) and, where tokens are issued, gets the API access volume
Kubernetes mounts: a projected `kube-api-access-xxxxx` with a bound token, the cluster CA (the kube-root-ca.crt
ConfigMap) and the namespace, at /var/run/secrets/kubernetes.io/serviceaccount in every container.

Unlike Kubernetes, a pod whose ServiceAccount does not exist (yet) is admitted without the volume instead of
being refused: kubelite's tests and small clusters often run without the controller that makes "default".
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from kube import errors
from kube.resources import PODS, SERVICEACCOUNTS

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "MOUNT_PATH", "ROOT_CA_CONFIGMAP", "ServiceAccount", "api_access_volume"]

DEFAULT_SERVICE_ACCOUNT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_SECONDS = 3607  # Kubernetes' choice: an hour and a few seconds, so it is recognisably the kubelet's
_VOLUME_PREFIX = "kube-api-access-"
_SUFFIX_CHARS = string.ascii_lowercase + string.digits

Obj = dict[str, Any]


def api_access_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}},
    ]}}


def _containers(spec: Obj) -> list[Obj]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


class ServiceAccount(Plugin):
    name = "ServiceAccount"

    def __init__(self, mount_tokens: bool = False) -> None:
        self.mount_tokens = mount_tokens  # only when this apiserver issues service-account tokens
        self._registry: Registry | None = None

    async def start(self, registry: Registry) -> None:
        self._registry = registry

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != "CREATE" or attrs.resource is not PODS or attrs.subresource or not attrs.obj:
            return
        spec = attrs.obj.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccount"] = spec["serviceAccountName"]
        if self.mount_tokens and self._registry is not None:
            await self._mount(attrs.namespace or "", spec)

    async def _mount(self, namespace: str, spec: Obj) -> None:
        if spec.get("automountServiceAccountToken") is False:
            return
        if any(m.get("mountPath") == MOUNT_PATH for c in _containers(spec) for m in c.get("volumeMounts") or []):
            return  # the pod mounts something of its own there
        assert self._registry is not None
        try:
            account = await self._registry.get(SERVICEACCOUNTS, namespace, spec["serviceAccountName"])
        except errors.NotFound:
            return
        if account.get("automountServiceAccountToken") is False and spec.get("automountServiceAccountToken") is None:
            return
        names = {v.get("name") for v in spec.get("volumes") or []}
        name = _VOLUME_PREFIX + "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))
        while name in names:
            name = _VOLUME_PREFIX + "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))
        spec.setdefault("volumes", []).append(api_access_volume(name))
        for container in _containers(spec):
            container.setdefault("volumeMounts", []).append({"name": name, "readOnly": True, "mountPath": MOUNT_PATH})
