"""CSR cleaner: CertificateSigningRequests are removed once done with, as kube-controller-manager's csrcleaner
does: approved, denied or failed ones an hour after that happened, pending ones after a day, and any whose
issued certificate has expired. Each CSR is looked at again on every resync."""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import ClassVar

from cryptography import x509

from controllers.base import Controller
from kube import csr as kcsr
from kube import errors, timeutil
from kube.resources import CERTIFICATESIGNINGREQUESTS, ResourceType

__all__ = ["CSRCleanerController", "expired"]

log = logging.getLogger("controllers.csrcleaner")

DECIDED_SECONDS = 3600.0  # approvedExpiration, deniedExpiration
PENDING_SECONDS = 24 * 3600.0  # pendingExpiration


def expired(csr: dict, now: datetime.datetime | None = None) -> str:
    """Why the CSR is due for removal ("" if it is not)."""
    now = now or datetime.datetime.now(datetime.UTC)
    pem = kcsr.certificate_pem(csr)
    if pem:
        try:
            if x509.load_pem_x509_certificate(pem).not_valid_after_utc < now:
                return "its certificate has expired"
        except ValueError:
            pass
    for kind in (kcsr.APPROVED, kcsr.DENIED, kcsr.FAILED):
        condition = kcsr.condition(csr, kind)
        if condition is not None:
            since = condition.get("lastUpdateTime") or csr["metadata"].get("creationTimestamp")
            if since and (now - timeutil.parse(since)).total_seconds() > DECIDED_SECONDS:
                return f"{kind.lower()} more than an hour ago"
            return ""
    created = csr["metadata"].get("creationTimestamp")
    if created and (now - timeutil.parse(created)).total_seconds() > PENDING_SECONDS:
        return "pending for more than a day"
    return ""


class CSRCleanerController(Controller):
    name: ClassVar[str] = "csrcleaner"
    primary: ClassVar[ResourceType | None] = CERTIFICATESIGNINGREQUESTS
    workers: ClassVar[int] = 1

    async def sync(self, key: str) -> None:
        csr = self.informer.get(key)
        if csr is None:
            return
        why = expired(csr)
        if why:
            log.info("deleting csr %s: %s", key, why)
            with contextlib.suppress(errors.NotFound):  # gone already
                await self.client.delete(CERTIFICATESIGNINGREQUESTS, key)
