"""Client certificates: verified against --client-ca-file after the handshake; the subject is the user.

As Kubernetes' Go server does, the TLS handshake accepts any client certificate (apiserver.tls installs that
verify callback) and the chain is verified here, so a certificate from a foreign CA, expired, or not meant for
client authentication gets a 401 Status instead of a TLS alert. Only certificates signed directly by one of
the CAs are accepted (no intermediates: the handshake hands over the leaf alone). Expiry is checked again on
every request, as Kubernetes does, so a kept-alive connection cannot outlive its certificate.
"""

from __future__ import annotations

import datetime
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apiserver.authn.user import ALL_AUTHENTICATED, UserInfo
from kube import errors

__all__ = ["ClientCAs", "PeerCertificate", "X509Authenticator", "peer_certificate"]

log = logging.getLogger("apiserver.authn")

_CLIENT_USAGES = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)


@dataclass(frozen=True)
class PeerCertificate:
    common_name: str
    organizations: tuple[str, ...]
    not_after: float  # epoch seconds
    not_before: float = 0.0
    error: str = ""  # why the certificate did not verify; "" when it did


class ClientCAs:
    """The CA bundle client certificates must be signed by."""

    def __init__(self, cas: list[x509.Certificate]) -> None:
        if not cas:
            raise ValueError("no CA certificate in the client CA bundle")
        self.cas = cas
        self.verify_der = functools.lru_cache(maxsize=1024)(self._verify_der)

    @classmethod
    def from_file(cls, path: Path) -> ClientCAs:
        return cls(x509.load_pem_x509_certificates(Path(path).read_bytes()))

    def _verify_der(self, der: bytes) -> PeerCertificate:
        """Signature, issuer and key usage (time-independent, so cached per certificate); times come later."""
        try:
            leaf = x509.load_der_x509_certificate(der)
        except ValueError:
            return PeerCertificate("", (), 0.0, error="x509: malformed certificate")
        name = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        orgs = tuple(str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        peer = PeerCertificate(str(name[0].value) if name else "", orgs,
                               leaf.not_valid_after_utc.timestamp(), leaf.not_valid_before_utc.timestamp())
        issuer = self._issuer_of(leaf)
        if issuer is None:
            return _failed(peer, "x509: certificate signed by unknown authority")
        now = datetime.datetime.now(datetime.UTC)
        if not issuer.not_valid_before_utc <= now <= issuer.not_valid_after_utc:
            return _failed(peer, "x509: certificate signed by an authority that has expired or is not yet valid")
        try:
            usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return peer
        if not any(u in usages for u in _CLIENT_USAGES):
            return _failed(peer, "x509: certificate specifies an incompatible key usage")
        return peer

    def _issuer_of(self, leaf: x509.Certificate) -> x509.Certificate | None:
        for ca in self.cas:
            try:
                leaf.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):  # another issuer, key type or signature
                continue
            return ca
        return None


def _failed(peer: PeerCertificate, error: str) -> PeerCertificate:
    return PeerCertificate(peer.common_name, peer.organizations, peer.not_after, peer.not_before, error)


def peer_certificate(transport: Any, cas: ClientCAs | None) -> PeerCertificate | None:
    """The client certificate of a TLS connection, verified against `cas`; None if none was presented."""
    if cas is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    return cas.verify_der(der)


class X509Authenticator:
    """CN is the user name, each O a group (Kubernetes' CommonNameUserConversion)."""

    def authenticate(self, peer: PeerCertificate | None) -> UserInfo | None:
        """The certificate's user; None without one; Unauthorized if it was presented but is not valid now."""
        if peer is None:
            return None
        error = peer.error or _time_error(peer) or ("" if peer.common_name else "x509: subject with no common name")
        if error:
            log.info("client certificate %r refused: %s", peer.common_name, error)
            raise errors.Unauthorized("Unauthorized")
        return UserInfo(peer.common_name, groups=(*peer.organizations, ALL_AUTHENTICATED))


def _time_error(peer: PeerCertificate) -> str:
    now = time.time()
    if (peer.not_after and now > peer.not_after) or now < peer.not_before:
        return "x509: certificate has expired or is not yet valid"
    return ""
