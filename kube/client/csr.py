"""Asking for a certificate through the API, as client-go's util/certificate/csr does: create a
CertificateSigningRequest and wait until it is issued, denied or failed."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence

from kube import csr as kcsr
from kube.client.rest import ApiClient
from kube.resources import CERTIFICATESIGNINGREQUESTS

__all__ = ["request_certificate"]

log = logging.getLogger("kube.client.csr")

POLL_SECONDS = 1.0


async def request_certificate(client: ApiClient, request_pem: bytes, signer: str, usages: Sequence[str],
                              timeout: float, *, expiration_seconds: int | None = None,
                              progress: Callable[[str], None] | None = None) -> bytes:
    """Create a CSR for `request_pem` and wait (at most `timeout` seconds) until it is issued: the PEM
    certificate. RuntimeError when it is denied or fails, TimeoutError when nobody decides in time."""
    spec: dict[str, object] = {"request": base64.b64encode(request_pem).decode(), "usages": list(usages),
                               "signerName": signer}
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    created = await client.create(CERTIFICATESIGNINGREQUESTS, {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"}, "spec": spec})
    name = created["metadata"]["name"]
    (progress or log.info)(f"certificate signing request {name} created; waiting for approval and signing")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        csr = await client.get(CERTIFICATESIGNINGREQUESTS, name)
        for refusal in (kcsr.DENIED, kcsr.FAILED):
            found = kcsr.condition(csr, refusal)
            if found is not None:
                raise RuntimeError(f"certificate signing request {name} {refusal.lower()}: "
                                   f"{found.get('reason', '')} {found.get('message', '')}".strip())
        if (csr.get("status") or {}).get("certificate"):
            return kcsr.certificate_pem(csr)
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"certificate signing request {name} not issued within {timeout:.0f}s "
                               f"(approve it with: kubectl certificate approve {name})")
        await asyncio.sleep(POLL_SECONDS)
