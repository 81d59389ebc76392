"""ServiceAccount (the defaulting half): a new pod that names no service account runs as "default", and
the deprecated `serviceAccount` field mirrors `serviceAccountName`, as plugin/pkg/admission/serviceaccount
does. Token volumes come with the service-account tokens of the security issue."""

from __future__ import annotations

from apiserver.admission.chain import Attributes, Plugin
from kube.resources import PODS

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "ServiceAccount"]

DEFAULT_SERVICE_ACCOUNT = "default"


class ServiceAccount(Plugin):
    name = "ServiceAccount"

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != "CREATE" or attrs.resource is not PODS or attrs.subresource or not attrs.obj:
            return
        spec = attrs.obj.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccount"] = spec["serviceAccountName"]
