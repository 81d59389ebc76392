"""DefaultTolerationSeconds: every new pod tolerates a not-ready or unreachable node for a while (300 s by
default) before the node lifecycle controller evicts it, unless the pod says otherwise."""

from __future__ import annotations

from typing import Any

from apiserver.admission.chain import Attributes, Plugin
from kube.resources import PODS

__all__ = ["DefaultTolerationSeconds", "add_default_tolerations"]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def _tolerates_no_execute(tolerations: list[dict[str, Any]], key: str) -> bool:
    for t in tolerations:
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        if t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"):
            return True
    return False


def add_default_tolerations(pod: dict[str, Any], not_ready_seconds: int, unreachable_seconds: int) -> None:
    tolerations = pod.setdefault("spec", {}).setdefault("tolerations", [])
    for key, seconds in ((NOT_READY_TAINT, not_ready_seconds), (UNREACHABLE_TAINT, unreachable_seconds)):
        if not _tolerates_no_execute(tolerations, key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})


class DefaultTolerationSeconds(Plugin):
    name = "DefaultTolerationSeconds"

    def __init__(self, not_ready_seconds: int = 300, unreachable_seconds: int = 300) -> None:
        self.seconds = (not_ready_seconds, unreachable_seconds)

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation == "CREATE" and attrs.resource is PODS and attrs.subresource is None and attrs.obj:
            add_default_tolerations(attrs.obj, *self.seconds)
