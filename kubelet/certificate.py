"""The kubelet's client certificate: TLS bootstrapping and rotation, as Kubernetes' kubelet does them.

Bootstrap (`--bootstrap-kubeconfig`): when `--kubeconfig` is missing or its certificate is unusable, the
kubelet makes a key, asks for `CN=system:node:NAME, O=system:nodes` with a CertificateSigningRequest for the
signer kubernetes.io/kube-apiserver-client-kubelet (authenticated by the bootstrap token), waits until the
controller-manager approved and signed it, writes certificate and key to `<cert-dir>/kubelet-client-current.pem`
and a kubeconfig naming that file. Rotation: at a random moment between 70% and 90% of the certificate's life
the kubelet asks again, now as the node itself (auto-approved as selfnodeclient), writes the new pair over the
old one atomically and moves its API client onto it.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kube import csr as kcsr
from kube import errors, pki
from kube.client import ApiClient, csr, kubeconfig

__all__ = ["CertificateManager", "Credentials", "bootstrap", "usable_certificate"]

log = logging.getLogger("kubelet.certificate")

CURRENT = "kubelet-client-current.pem"
USAGES = ["digital signature", "client auth"]


@dataclass(frozen=True)
class Credentials:
    kubeconfig: Path
    pem: Path  # certificate and key in one file, as the kubelet keeps them


def usable_certificate(pem: Path, node_name: str, margin: float = 60.0) -> x509.Certificate | None:
    """The certificate in `pem` if it names this node and stays valid another `margin` seconds."""
    try:
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
    except (OSError, ValueError):
        return None
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    if left.total_seconds() < margin or pki.identity_of(cert)[0] != f"system:node:{node_name}":
        return None
    return cert


async def request_certificate(client: ApiClient, node_name: str, key_pem: bytes, timeout: float) -> bytes:
    """The node's client certificate for `key_pem`, asked for and waited on (at most `timeout` seconds)."""
    request = pki.certificate_request(key_pem, f"system:node:{node_name}", [kcsr.NODES_GROUP])
    return await csr.request_certificate(client, request, kcsr.KUBE_APISERVER_CLIENT_KUBELET, USAGES, timeout)


def _write_pair(credentials: Credentials, server: str, ca_file: str | None, cert_pem: bytes,
                key_pem: bytes) -> None:
    tmp = credentials.pem.with_suffix(".tmp")
    pki.write_private(tmp, cert_pem + key_pem)
    tmp.replace(credentials.pem)  # atomic: a reader sees the old pair or the new one
    if not credentials.kubeconfig.exists():
        kubeconfig.merge_context("default-auth", server, path=credentials.kubeconfig, ca_file=ca_file,
                                 client_certificate=str(credentials.pem), client_key=str(credentials.pem))


async def bootstrap(bootstrap_kubeconfig: Path, credentials: Credentials, node_name: str,
                    timeout: float = 300.0) -> None:
    """Make sure `credentials` hold a usable certificate for this node, asking for one with the bootstrap
    kubeconfig's token if not (Kubernetes' LoadClientCert)."""
    if credentials.kubeconfig.exists() and usable_certificate(credentials.pem, node_name) is not None:
        return
    creds = kubeconfig.load(bootstrap_kubeconfig)
    key_pem = pki.new_private_key_pem()
    async with ApiClient(creds.server, token=creds.token, verify=creds.verify, cert=creds.cert,
                         user_agent="kubelet-lite") as client:
        cert_pem = await request_certificate(client, node_name, key_pem, timeout)
    credentials.pem.parent.mkdir(parents=True, exist_ok=True)
    credentials.kubeconfig.unlink(missing_ok=True)  # it named another pair (or none)
    _write_pair(credentials, creds.server, creds.verify if isinstance(creds.verify, str) else None, cert_pem,
                key_pem)
    log.info("client certificate for system:node:%s written to %s", node_name, credentials.pem)


class CertificateManager:
    """Rotates the client certificate `client` uses before it expires."""

    def __init__(self, client: ApiClient, credentials: Credentials, node_name: str,
                 timeout: float = 300.0) -> None:
        self.client = client
        self.credentials = credentials
        self.node_name = node_name
        self.timeout = timeout

    def rotation_deadline(self, cert: x509.Certificate) -> float:
        """Seconds from now: a random point in [70%, 90%] of the certificate's lifetime (jittered as the
        kubelet does, so that nodes started together do not all ask at once)."""
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        at = start + (end - start) * random.uniform(0.7, 0.9)
        return max(0.0, (at - datetime.datetime.now(datetime.UTC)).total_seconds())

    async def run(self) -> None:
        while True:
            try:
                cert = x509.load_pem_x509_certificate(self.credentials.pem.read_bytes())
            except (OSError, ValueError) as exc:
                log.warning("cannot read the client certificate %s: %s", self.credentials.pem, exc)
                return
            wait = self.rotation_deadline(cert)
            log.info("client certificate valid until %s; rotating in %.0fs", cert.not_valid_after_utc, wait)
            await asyncio.sleep(wait)
            try:
                await self.rotate()
            except (errors.ApiError, RuntimeError, TimeoutError, OSError) as exc:
                log.warning("client certificate rotation failed (%s); retrying in 30s", exc)
                await asyncio.sleep(30.0)

    async def rotate(self) -> None:
        key_pem = pki.new_private_key_pem()
        cert_pem = await request_certificate(self.client, self.node_name, key_pem, self.timeout)
        creds = kubeconfig.load(self.credentials.kubeconfig)
        _write_pair(self.credentials, creds.server, None, cert_pem, key_pem)
        await self.client.use_client_certificate((str(self.credentials.pem), str(self.credentials.pem)))
        log.info("client certificate rotated")
