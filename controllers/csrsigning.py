"""CSR signing: approved CertificateSigningRequests for the kubernetes.io signers get a certificate from the
cluster CA (--cluster-signing-cert-file/--cluster-signing-key-file), as kube-controller-manager's csrsigning
controller issues them.

A request the signer's rules refuse (kube.csr.signer_problem: a kubelet client certificate must name a node in
system:nodes and nothing else, ...) gets the condition Failed instead. The certificate lives as long as the CSR's
spec.expirationSeconds asks, at most --cluster-signing-duration, never past the CA. Without a CA the
controller is idle.
"""

from __future__ import annotations

import base64
import datetime
import logging
from typing import ClassVar

from cryptography import x509

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import csr as kcsr
from kube import pki, timeutil
from kube.resources import CERTIFICATESIGNINGREQUESTS, ResourceType

__all__ = ["SIGNERS", "CSRSigningController"]

log = logging.getLogger("controllers.csrsigning")

SIGNERS = (kcsr.KUBE_APISERVER_CLIENT, kcsr.KUBE_APISERVER_CLIENT_KUBELET, kcsr.KUBELET_SERVING,
           kcsr.LEGACY_UNKNOWN)
DEFAULT_DURATION = 365 * 24 * 3600.0  # --cluster-signing-duration 8760h


class CSRSigningController(Controller):
    name: ClassVar[str] = "csrsigning"
    primary: ClassVar[ResourceType | None] = CERTIFICATESIGNINGREQUESTS

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.ca: pki.CertificateAuthority | None = ctx.option("cluster_signing_ca", None)
        self.duration = datetime.timedelta(seconds=ctx.option("cluster_signing_duration", DEFAULT_DURATION))

    async def sync(self, key: str) -> None:
        csr = self.informer.get(key)
        if csr is None or self.ca is None or not self._wants_certificate(csr):
            return
        spec = csr.get("spec") or {}
        status = dict(csr.get("status") or {})
        try:
            request = x509.load_pem_x509_csr(kcsr.request_pem(csr))
            problem = kcsr.signer_problem(spec["signerName"], request, spec.get("usages") or [])
        except ValueError as exc:
            problem = f"unable to parse csr: {exc}"
        if problem:
            log.info("csr %s refused by %s: %s", key, spec.get("signerName"), problem)
            status["conditions"] = [*(status.get("conditions") or []), {
                "type": kcsr.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": problem,
                "lastUpdateTime": timeutil.now()}]
        else:
            status["certificate"] = base64.b64encode(
                pki.sign_request(self.ca, kcsr.request_pem(csr), spec.get("usages") or [], self._duration(spec))
            ).decode()
        await self.client.replace_status(CERTIFICATESIGNINGREQUESTS, {**csr, "status": status})

    @staticmethod
    def _wants_certificate(csr: dict) -> bool:
        status = csr.get("status") or {}
        return (bool(kcsr.condition(csr, kcsr.APPROVED)) and not kcsr.condition(csr, kcsr.DENIED)
                and not kcsr.condition(csr, kcsr.FAILED) and not status.get("certificate")
                and (csr.get("spec") or {}).get("signerName") in SIGNERS)

    def _duration(self, spec: dict) -> datetime.timedelta:
        asked = spec.get("expirationSeconds")
        return min(self.duration, datetime.timedelta(seconds=asked)) if asked else self.duration
