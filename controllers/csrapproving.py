"""CSR approving: kubelets' client certificate requests are approved automatically when the requester may ask
for one, as kube-controller-manager's csrapproving controller decides with a SubjectAccessReview.

A request for signer kubernetes.io/kube-apiserver-client-kubelet that names a node (kube.csr.signer_problem
finds nothing wrong) is approved if its requester may `create certificatesigningrequests/selfnodeclient` (a
node renewing its own certificate) or `.../nodeclient` (a bootstrap token asking for a new node's first one).
Everything else waits for a person (`kubectl certificate approve`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cryptography import x509
from cryptography.x509.oid import NameOID

from controllers.base import Controller
from kube import csr as kcsr
from kube.client.reviews import subject_may
from kube.resources import CERTIFICATESIGNINGREQUESTS, ResourceType

__all__ = ["CSRApprovingController"]

_MESSAGES = {
    "selfnodeclient": "Auto approving self kubelet client certificate after SubjectAccessReview.",
    "nodeclient": "Auto approving kubelet client certificate after SubjectAccessReview.",
}


class CSRApprovingController(Controller):
    name: ClassVar[str] = "csrapproving"
    primary: ClassVar[ResourceType | None] = CERTIFICATESIGNINGREQUESTS

    async def sync(self, key: str) -> None:
        csr = self.informer.get(key)
        if csr is None or kcsr.condition(csr, kcsr.APPROVED) or kcsr.condition(csr, kcsr.DENIED):
            return
        spec = csr.get("spec") or {}
        if spec.get("signerName") != kcsr.KUBE_APISERVER_CLIENT_KUBELET:
            return
        try:
            request = x509.load_pem_x509_csr(kcsr.request_pem(csr))
        except ValueError:
            return
        if kcsr.signer_problem(kcsr.KUBE_APISERVER_CLIENT_KUBELET, request, spec.get("usages") or []):
            return
        common = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        kinds = (["selfnodeclient"] if spec.get("username") == common else []) + ["nodeclient"]
        for kind in kinds:
            if await self._allowed(spec, kind):
                await self._approve(csr, _MESSAGES[kind])
                return

    async def _allowed(self, spec: dict[str, Any], subresource: str) -> bool:
        return await subject_may(
            self.client, spec.get("username") or "", spec.get("groups") or [],
            {"group": "certificates.k8s.io", "resource": "certificatesigningrequests", "verb": "create",
             "subresource": subresource}, uid=spec.get("uid") or "", extra=spec.get("extra"))

    async def _approve(self, csr: dict[str, Any], message: str) -> None:
        status = dict(csr.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []), {
            "type": kcsr.APPROVED, "status": "True", "reason": "AutoApproved", "message": message}]
        await self.client.replace(CERTIFICATESIGNINGREQUESTS, {**csr, "status": status}, "approval")
