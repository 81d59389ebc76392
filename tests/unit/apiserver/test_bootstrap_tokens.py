from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest

from apiserver.authn.bootstraptoken import BootstrapTokenAuthenticator, parse_token, token_groups
from apiserver.authn.user import UserInfo
from kube.resources import SECRETS

TOKEN = "abcdef.0123456789abcdef"


def _later(seconds: int) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret(name: str = "bootstrap-token-abcdef", namespace: str = "kube-system", **data: str) -> dict[str, Any]:
    values = {"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true",
              **data}
    return {"metadata": {"name": name, "namespace": namespace}, "type": "bootstrap.kubernetes.io/token",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def authenticator(*objs: dict[str, Any]) -> BootstrapTokenAuthenticator:
    tokens = BootstrapTokenAuthenticator()
    tokens.replace(SECRETS, list(objs))
    return tokens


def test_a_token_is_its_secrets_user_with_its_groups() -> None:
    tokens = authenticator(secret(**{"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
                                     "expiration": _later(3600)}))
    assert tokens.authenticate_token(TOKEN) == UserInfo(
        "system:bootstrap:abcdef", groups=("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                                           "system:authenticated"))


@pytest.mark.parametrize("token", ["abcdef.0123456789abcdeX", "abcdef0123456789abcdef", "ABCDEF.0123456789abcdef",
                                   "abcdef.0123456789abcde", ""])
def test_other_shapes_are_not_bootstrap_tokens(token: str) -> None:
    assert parse_token(token) is None
    assert authenticator(secret()).authenticate_token(token) is None


@pytest.mark.parametrize("refused", [
    secret(**{"token-secret": "ffffffffffffffff"}),
    secret(**{"token-id": "zzzzzz"}),
    secret(**{"usage-bootstrap-authentication": "false"}),
    secret(expiration=_later(-1)),
    secret(expiration="tomorrow"),
    secret(**{"auth-extra-groups": "system:masters"}),
    {**secret(), "type": "Opaque"},
    {**secret(), "data": {"token-id": "not base64!"}},
    {**secret(), "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system",
                              "deletionTimestamp": "2026-01-01T00:00:00Z"}},
    secret(namespace="default"),
])
def test_a_secret_that_does_not_make_the_token_valid(refused: dict[str, Any]) -> None:
    assert authenticator(refused).authenticate_token(TOKEN) is None


def test_the_secret_is_followed_as_it_changes() -> None:
    tokens = authenticator()
    assert tokens.authenticate_token(TOKEN) is None
    tokens.apply(SECRETS, "ADDED", secret())
    assert tokens.authenticate_token(TOKEN) is not None
    tokens.apply(SECRETS, "DELETED", secret())
    assert tokens.authenticate_token(TOKEN) is None


def test_extra_groups_stay_under_the_bootstrappers_prefix() -> None:
    assert token_groups(" system:bootstrappers:a , system:bootstrappers:a,,") == (
        "system:bootstrappers", "system:bootstrappers:a")
    for bad in ("system:nodes", "system:bootstrappers:", "system:bootstrappers:UPPER"):
        with pytest.raises(ValueError):
            token_groups(bad)
