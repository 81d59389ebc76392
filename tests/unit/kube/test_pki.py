from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kube import pki


def test_the_ca_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = pki.CertificateAuthority.load_or_create(tmp_path)
    again = pki.CertificateAuthority.load_or_create(tmp_path)
    assert first.cert == again.cert
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    assert first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_client_certificate_carries_user_and_groups_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.create()
    issued = ca.issue("system:node:n1", organizations=["system:nodes"])
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert pki.identity_of(cert) == ("system:node:n1", ("system:nodes",))
    cert.verify_directly_issued_by(ca.cert)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_serving_certificate_names_its_hosts(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.create()
    issued = ca.issue("kube-apiserver", client=False, server=True, dns_names=["localhost", "kubernetes.default"],
                      ip_addresses=["127.0.0.1", "10.96.0.1"])
    cert_path, key_path = issued.write(tmp_path / "s.crt", tmp_path / "s.key")
    cert = pki.load_certificate(cert_path)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "kubernetes.default"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                        ipaddress.ip_address("10.96.0.1")]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_the_ca_hash_is_of_its_public_key() -> None:
    ca = pki.CertificateAuthority.create()
    digest = pki.ca_cert_hash(ca.cert)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert digest != pki.ca_cert_hash(pki.CertificateAuthority.create().cert)
