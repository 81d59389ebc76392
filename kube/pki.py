"""A cluster's PKI, as kubeadm lays it out: one CA, and certificates it signs for servers and clients.

A client certificate's subject is its identity, the way Kubernetes reads it: the Common Name is the user
name, each Organization a group (`CN=system:node:n1, O=system:nodes`). Keys are ECDSA P-256: as strong as
RSA-3072 for TLS, and a handshake costs a fraction of RSA's. Private keys are written 0600.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_VALIDITY", "CERT_VALIDITY", "CertificateAuthority", "Issued", "ca_cert_hash", "certificate_request",
    "identity_of", "load_certificate", "new_private_key_pem", "request_names", "sign_request", "write_private",
]

CA_VALIDITY = datetime.timedelta(days=3650)  # kubeadm's CA lifetime
CERT_VALIDITY = datetime.timedelta(days=365)  # kubeadm's leaf lifetime
_CLOCK_SKEW = datetime.timedelta(minutes=5)  # backdate, so a peer whose clock is behind accepts the cert


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def new_private_key_pem() -> bytes:
    """A fresh ECDSA P-256 key as PKCS#8 PEM (service-account signing keys, as kubeadm's sa.key)."""
    return _key_pem(_new_key())


def write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by its owner only, created that way (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(0o600)


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def identity_of(cert: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    """(user name, groups) as Kubernetes' x509 authenticator reads a client certificate's subject."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(names[0].value) if names else ""), tuple(str(o.value) for o in orgs)


def ca_cert_hash(cert: x509.Certificate) -> str:
    """`sha256:<hex>` of the CA's SubjectPublicKeyInfo: what `kubeadm join --discovery-token-ca-cert-hash` pins."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> tuple[Path, Path]:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert_pem)
        write_private(key_path, self.key_pem)
        return cert_path, key_path


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str = "kubernetes") -> CertificateAuthority:
        key = _new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path}: not an ECDSA key")
        return cls(load_certificate(cert_path), key)

    @classmethod
    def load_or_create(cls, directory: Path, common_name: str = "kubernetes") -> CertificateAuthority:
        """The CA kept in `directory` (ca.crt, ca.key), made the first time."""
        cert_path, key_path = directory / "ca.crt", directory / "ca.key"
        if cert_path.exists() and key_path.exists():
            return cls.load(cert_path, key_path)
        ca = cls.create(common_name)
        Issued(ca.cert_pem, _key_pem(ca.key)).write(cert_path, key_path)
        return ca

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        client: bool = True,
        server: bool = False,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        validity: datetime.timedelta = CERT_VALIDITY,
    ) -> Issued:
        """A new key and a certificate for it: a client identity (CN user, O groups), a server name set, or both."""
        key = _new_key()
        subject = x509.Name([
            *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        usages = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + \
            ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         content_commitment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(_cert_pem(cert), _key_pem(key))


# ---------------------------------------------------------------------------- certificate signing requests

_KEY_USAGES = {  # CSR usage -> x509.KeyUsage field (Kubernetes' keyUsagesFromStrings)
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment", "cert sign": "key_cert_sign",
    "crl sign": "crl_sign", "encipher only": "encipher_only", "decipher only": "decipher_only",
}
_EXTENDED_USAGES = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION, "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}


def certificate_request(key_pem: bytes, common_name: str, organizations: Sequence[str] = (),
                        dns_names: Sequence[str] = (), ip_addresses: Sequence[str] = ()) -> bytes:
    """A PEM PKCS#10 request for the identity CN/O (and server names), signed with `key_pem`."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an ECDSA key")
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def request_names(request: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        return list(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def sign_request(ca: CertificateAuthority, request_pem: bytes, usages: Sequence[str],
                 duration: datetime.timedelta) -> bytes:
    """The PEM certificate `ca` issues for a CSR: its subject and names, the usages asked for, backdated by
    the clock skew allowance and never outliving the CA (as Kubernetes' local signer does)."""
    request = x509.load_pem_x509_csr(request_pem)
    if not request.is_signature_valid:
        raise ValueError("the request's signature does not verify")
    flags = {field: False for field in ("digital_signature", "content_commitment", "key_encipherment",
                                        "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                                        "encipher_only", "decipher_only")}
    extended: list[x509.ObjectIdentifier] = []
    for usage in usages:
        if usage in _KEY_USAGES:
            flags[_KEY_USAGES[usage]] = True
        elif usage in _EXTENDED_USAGES and _EXTENDED_USAGES[usage] not in extended:
            extended.append(_EXTENDED_USAGES[usage])
        else:
            raise ValueError(f"unknown usage {usage!r}")
    if not (flags["key_agreement"] and (flags["encipher_only"] or flags["decipher_only"])):
        flags["encipher_only"] = flags["decipher_only"] = False  # only meaningful with key agreement
    now = _now()
    not_after = min(now + duration, ca.cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject).issuer_name(ca.cert.subject).public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**flags), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    names = request_names(request)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _cert_pem(builder.sign(ca.key, hashes.SHA256()))
