"""Client certificates: the TLS handshake verified the chain against --client-ca-file; the subject is the user.

Python's ssl module verifies a client certificate inside the handshake, so one from a foreign CA ends the
connection with a TLS alert ("unknown ca") before any request; Kubernetes' Go server verifies after the
handshake and answers 401. Either way the request never runs. Expiry is checked again on every request, as
Kubernetes does, so a kept-alive connection cannot outlive its certificate.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

from apiserver.authn.user import ALL_AUTHENTICATED, UserInfo
from kube import errors

__all__ = ["PeerCertificate", "X509Authenticator", "peer_certificate"]


@dataclass(frozen=True)
class PeerCertificate:
    common_name: str
    organizations: tuple[str, ...]
    not_after: float  # epoch seconds


def peer_certificate(transport: Any) -> PeerCertificate | None:
    """The verified client certificate of a TLS connection, or None (plain HTTP, or none presented)."""
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    fields = [pair for rdn in cert.get("subject", ()) for pair in rdn]
    names = [v for k, v in fields if k == "commonName"]
    orgs = tuple(v for k, v in fields if k == "organizationName")
    not_after = ssl.cert_time_to_seconds(cert["notAfter"]) if cert.get("notAfter") else 0.0
    return PeerCertificate(names[0] if names else "", orgs, not_after)


class X509Authenticator:
    """CN is the user name, each O a group (Kubernetes' CommonNameUserConversion)."""

    def authenticate(self, peer: PeerCertificate | None) -> UserInfo | None:
        if peer is None:
            return None
        if peer.not_after and time.time() > peer.not_after:
            raise errors.Unauthorized("Unauthorized")
        if not peer.common_name:
            raise errors.Unauthorized("Unauthorized")
        return UserInfo(peer.common_name, groups=(*peer.organizations, ALL_AUTHENTICATED))
