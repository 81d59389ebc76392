from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from apiserver.registry.certificates import validate_signer_name
from controllers.csrcleaner import expired
from kube import csr as kcsr
from kube import pki

NOW = datetime.datetime.now(datetime.UTC)


def request(cn: str, orgs: list[str], **names: list[str]) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr(pki.certificate_request(pki.new_private_key_pem(), cn, orgs, **names))


@pytest.mark.parametrize(("signer", "req", "usages", "problem"), [
    (kcsr.KUBE_APISERVER_CLIENT_KUBELET, request("system:node:n1", ["system:nodes"]),
     ["digital signature", "client auth"], ""),
    (kcsr.KUBE_APISERVER_CLIENT_KUBELET, request("system:node:n1", ["system:nodes", "x"]), ["client auth"],
     "subject organization is not system:nodes"),
    (kcsr.KUBE_APISERVER_CLIENT_KUBELET, request("alice", ["system:nodes"]), ["client auth"],
     'subject common name does not begin with "system:node:"'),
    (kcsr.KUBE_APISERVER_CLIENT_KUBELET, request("system:node:n1", ["system:nodes"], dns_names=["n1"]),
     ["client auth"], "DNS, email, IP and URI subjectAltNames are not allowed"),
    (kcsr.KUBE_APISERVER_CLIENT_KUBELET, request("system:node:n1", ["system:nodes"]), ["server auth"],
     "usages did not match"),
    (kcsr.KUBELET_SERVING, request("system:node:n1", ["system:nodes"], ip_addresses=["10.0.0.1"]),
     ["server auth"], ""),
    (kcsr.KUBELET_SERVING, request("system:node:n1", ["system:nodes"]), ["server auth"],
     "DNS or IP subjectAltName is required"),
    (kcsr.KUBE_APISERVER_CLIENT, request("carol", ["dev"]), ["client auth", "key encipherment"], ""),
    (kcsr.LEGACY_UNKNOWN, request("anything", []), ["any"], ""),
])
def test_each_signer_accepts_only_its_kind_of_request(signer: str, req: x509.CertificateSigningRequest,
                                                      usages: list[str], problem: str) -> None:
    found = kcsr.signer_problem(signer, req, usages)
    assert found.startswith(problem) and bool(found) == bool(problem)


def test_a_signed_certificate_has_the_requests_subject_names_and_usages() -> None:
    ca = pki.CertificateAuthority.create("ca")
    pem = pki.certificate_request(pki.new_private_key_pem(), "system:node:n1", ["system:nodes"],
                                  dns_names=["n1"], ip_addresses=["10.0.0.1"])
    cert = x509.load_pem_x509_certificate(pki.sign_request(ca, pem, ["digital signature", "server auth"],
                                                           datetime.timedelta(hours=1)))
    assert pki.identity_of(cert) == ("system:node:n1", ("system:nodes",))
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["n1"]
    cert.verify_directly_issued_by(ca.cert)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(hours=1) <= lifetime <= datetime.timedelta(hours=1, minutes=6)
    with pytest.raises(ValueError, match="unknown usage"):
        pki.sign_request(ca, pem, ["teleport"], datetime.timedelta(hours=1))


def _stamp(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_cleaner_removes_decided_requests_after_an_hour_and_pending_ones_after_a_day() -> None:
    def csr(created: float, **condition: float) -> dict:
        conditions = [{"type": kind, "status": "True", "lastUpdateTime": _stamp(ago)} for kind, ago in
                      condition.items()]
        return {"metadata": {"creationTimestamp": _stamp(created)}, "status": {"conditions": conditions}}

    assert expired(csr(10)) == ""
    assert expired(csr(25 * 3600)) == "pending for more than a day"
    assert expired(csr(7200, Approved=600)) == ""
    assert expired(csr(7200, Approved=3700)) == "approved more than an hour ago"
    assert expired(csr(7200, Denied=3700)) == "denied more than an hour ago"
    ca = pki.CertificateAuthority.create("ca")
    pem = pki.certificate_request(pki.new_private_key_pem(), "u", [])
    old = pki.sign_request(ca, pem, ["client auth"], datetime.timedelta(seconds=1))
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)  # not NOW: taken at import
    issued = {**csr(10, Approved=5), "status": {"certificate": base64.b64encode(old).decode(), "conditions": []}}
    assert expired(issued, later) == "its certificate has expired"


@pytest.mark.parametrize(("name", "problem"), [
    ("example.com/signer", ""),
    ("kubernetes.io/kube-apiserver-client", ""),
    ("", "Required value"),
    ("example.com", "must be a fully qualified domain and path"),
    ("a/b/c", "must be a fully qualified domain and path"),
    ("localhost/signer", "should be a domain with at least two segments"),
    ("Example.com/signer", 'validating label "Example"'),
    ("example.com/Signer", 'validating label "Signer"'),
])
def test_signer_names(name: str, problem: str) -> None:
    causes = validate_signer_name(name)
    assert (problem in causes[0]["message"]) if problem else causes == []
