from __future__ import annotations

import time
from pathlib import Path

import pytest

from apiserver.authn.chain import Authenticator
from apiserver.authn.tokenfile import TokenFileAuthenticator, read_token_file
from apiserver.authn.user import UserInfo, node_name
from apiserver.authn.x509 import PeerCertificate
from kube import errors

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
