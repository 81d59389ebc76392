"""Bootstrap tokens: `ID.SECRET` bearer tokens kept as Secrets in kube-system, for nodes joining the cluster.

As Kubernetes' bootstrap token authenticator (`--enable-bootstrap-token-auth`): the token `abcdef.0123456789abcdef`
is valid while the Secret `kube-system/bootstrap-token-abcdef` of type `bootstrap.kubernetes.io/token` exists,
is not being deleted, holds the same token-id and token-secret, has `usage-bootstrap-authentication: "true"`
and has not passed its `expiration`. The user is `system:bootstrap:ID` in `system:bootstrappers` and the
token's `auth-extra-groups`. Any failure is "not this method's token" (so a 401), never an error. The Secrets
come from the apiserver's own watch (a localinformer.Handler), not from etcd per request.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import logging
import re
from collections.abc import Sequence
from typing import Any

from apiserver.authn.user import ALL_AUTHENTICATED, UserInfo
from kube.resources import ResourceType

__all__ = [
    "BOOTSTRAP_GROUP",
    "SECRET_PREFIX",
    "SECRET_TYPE",
    "BootstrapTokenAuthenticator",
    "parse_token",
    "token_groups",
]

log = logging.getLogger("apiserver.authn")

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
USER_PREFIX = "system:bootstrap:"
BOOTSTRAP_GROUP = "system:bootstrappers"
_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_EXTRA_GROUP = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


def parse_token(token: str) -> tuple[str, str] | None:
    """(token id, token secret), or None for a token of another shape."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def token_groups(extra: str) -> tuple[str, ...]:
    """`system:bootstrappers` and the comma-separated extra groups; ValueError for one outside that prefix."""
    groups = [BOOTSTRAP_GROUP]
    for group in (g.strip() for g in extra.split(",")):
        if not group:
            continue
        if not _EXTRA_GROUP.match(group):
            raise ValueError(f"{group!r} is not a valid bootstrap group (must match {_EXTRA_GROUP.pattern})")
        if group not in groups:
            groups.append(group)
    return tuple(groups)


def _data(secret: dict[str, Any]) -> dict[str, str] | None:
    try:
        return {k: base64.b64decode(v, validate=True).decode() for k, v in (secret.get("data") or {}).items()}
    except (binascii.Error, UnicodeDecodeError, TypeError, AttributeError):
        return None


def _expired(expiration: str) -> bool:
    try:
        when = datetime.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return True  # as Kubernetes: an unreadable expiration counts as expired
    if when.tzinfo is None:
        return True
    return when <= datetime.datetime.now(datetime.UTC)


class BootstrapTokenAuthenticator:
    """A token authenticator and a localinformer.Handler over the Secrets of kube-system."""

    def __init__(self) -> None:
        self._secrets: dict[str, dict[str, Any]] = {}  # name -> Secret

    def replace(self, rt: ResourceType, objs: list[dict[str, Any]]) -> None:
        self._secrets = {}
        for obj in objs:
            self.apply(rt, "ADDED", obj)

    def apply(self, rt: ResourceType, event_type: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        if meta.get("namespace") != NAMESPACE or not name.startswith(SECRET_PREFIX):
            return
        if event_type == "DELETED":
            self._secrets.pop(name, None)
        else:
            self._secrets[name] = obj

    def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        token_id, token_secret = parsed
        secret = self._secrets.get(SECRET_PREFIX + token_id)
        if secret is None:
            return None
        refusal, groups = self._check(secret, token_id, token_secret)
        if refusal:
            log.info("bootstrap secret %s/%s matching a bearer token %s", NAMESPACE, SECRET_PREFIX + token_id,
                     refusal)
            return None
        return UserInfo(USER_PREFIX + token_id, groups=(*groups, ALL_AUTHENTICATED))

    @staticmethod
    def _check(secret: dict[str, Any], token_id: str, token_secret: str) -> tuple[str, tuple[str, ...]]:
        """Why the Secret does not make the token valid ("" if it does), and the token's groups."""
        if secret["metadata"].get("deletionTimestamp"):
            return "is deleted and awaiting removal", ()
        data = _data(secret) if secret.get("type") == SECRET_TYPE else None
        if data is None:
            return f"has invalid type or data, expected type {SECRET_TYPE}", ()
        if not hmac.compare_digest(data.get("token-secret", "").encode(), token_secret.encode()):
            return "has another token-secret", ()
        if data.get("token-id") != token_id:
            return "has another token-id", ()
        if "expiration" in data and _expired(data["expiration"]):
            return f"has expired ({data['expiration']})", ()
        if data.get("usage-bootstrap-authentication") != "true":
            return "is not marked usage-bootstrap-authentication=true", ()
        try:
            return "", token_groups(data.get("auth-extra-groups", ""))
        except ValueError as exc:
            return f"has invalid auth-extra-groups: {exc}", ()
