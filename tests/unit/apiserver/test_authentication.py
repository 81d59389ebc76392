from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from apiserver import tls
from apiserver.authn.chain import Authenticator
from apiserver.authn.tokenfile import TokenFileAuthenticator, read_token_file
from apiserver.authn.user import UserInfo, node_name
from apiserver.authn.x509 import ClientCAs, PeerCertificate, X509Authenticator
from kube import errors
from kube import pki as kpki

FUTURE = time.time() + 3600


@pytest.fixture
def chain(tmp_path: Path) -> Authenticator:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('tok-bob,bob,1001,"dev,ops"\ntok-eve,eve,1002\n')
    return Authenticator(tokens=[TokenFileAuthenticator.from_file(tokens)])


def test_a_certificate_is_its_subject(chain: Authenticator) -> None:
    user = chain.authenticate("/api/v1/pods", None, PeerCertificate("system:node:n1", ("system:nodes",), FUTURE))
    assert user == UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
    assert node_name(user) == "n1"


def test_an_expired_certificate_is_refused_even_on_a_kept_alive_connection(chain: Authenticator) -> None:
    with pytest.raises(errors.Unauthorized):
        chain.authenticate("/api/v1/pods", None, PeerCertificate("alice", (), time.time() - 1))


def test_tokens_from_the_file_with_their_groups(chain: Authenticator) -> None:
    assert chain.authenticate("/api", "Bearer tok-bob", None) == UserInfo(
        "bob", "1001", ("dev", "ops", "system:authenticated"))
    assert chain.authenticate("/api", "bearer tok-eve", None).groups == ("system:authenticated",)


def test_a_wrong_token_is_401_even_where_anonymous_is_allowed(chain: Authenticator) -> None:
    with pytest.raises(errors.Unauthorized):
        chain.authenticate("/healthz", "Bearer nope", None)


def test_anonymous_only_on_its_paths(chain: Authenticator) -> None:
    assert chain.authenticate("/readyz", None, None).name == "system:anonymous"
    assert chain.authenticate("/livez/ping", None, None).groups == ("system:unauthenticated",)
    assert chain.authenticate("/healthz", "Basic dXNlcjpwdw==", None).name == "system:anonymous"
    for path in ("/api/v1/secrets", "/healthzzz", "/"):
        with pytest.raises(errors.Unauthorized):
            chain.authenticate(path, None, None)


def test_anonymous_off_is_always_401() -> None:
    with pytest.raises(errors.Unauthorized):
        Authenticator(anonymous=False).authenticate("/healthz", None, None)


def test_the_token_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("only-a-token\n")
    with pytest.raises(ValueError, match=r"bad\.csv:1"):
        read_token_file(bad)


def _der(ca: kpki.CertificateAuthority, name: str, **issue: Any) -> bytes:
    return x509.load_pem_x509_certificate(ca.issue(name, **issue).cert_pem).public_bytes(Encoding.DER)


def test_client_certificates_are_verified_against_the_bundle_after_the_handshake() -> None:
    ca, other = kpki.CertificateAuthority.create("ca"), kpki.CertificateAuthority.create("other")
    cas = ClientCAs([other.cert, ca.cert])
    good = cas.verify_der(_der(ca, "alice", organizations=["dev"]))
    assert (good.common_name, good.organizations, good.error) == ("alice", ("dev",), "")
    assert X509Authenticator().authenticate(good) == UserInfo("alice", groups=("dev", "system:authenticated"))
    refused = {
        "x509: certificate signed by unknown authority": _der(kpki.CertificateAuthority.create("ca"), "mallory"),
        "x509: certificate specifies an incompatible key usage": _der(ca, "web", client=False, server=True),
        "x509: malformed certificate": b"\x30\x03\x02\x01\x00",
    }
    for error, der in refused.items():
        assert cas.verify_der(der).error == error
        with pytest.raises(errors.Unauthorized):
            X509Authenticator().authenticate(cas.verify_der(der))
    with pytest.raises(errors.Unauthorized):  # expiry is a per-request check
        X509Authenticator().authenticate(cas.verify_der(_der(ca, "late", validity=datetime.timedelta(seconds=-9))))


def test_a_refused_certificate_beside_a_valid_token_is_the_tokens_user(chain: Authenticator) -> None:
    refused = PeerCertificate("mallory", (), FUTURE, error="x509: certificate signed by unknown authority")
    assert chain.authenticate("/api", "Bearer tok-eve", refused).name == "eve"
    for path in ("/api", "/healthz"):
        with pytest.raises(errors.Unauthorized):
            chain.authenticate(path, None, refused)


def test_the_handshake_hook_is_installed_on_this_python(tmp_path: Path) -> None:
    """Without it a foreign certificate ends in a TLS alert, not a 401: make sure it does not silently degrade."""
    ca = kpki.CertificateAuthority.create("ca")
    cert, key = ca.issue("localhost", client=False, server=True, dns_names=["localhost"]).write(
        tmp_path / "s.crt", tmp_path / "s.key")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    assert tls.accept_any_client_certificate(tls.server_context(cert, key, tmp_path / "ca.crt")) is True
    assert tls.accept_any_client_certificate(tls.server_context(cert, key, None)) is False  # no client CA: no ask
