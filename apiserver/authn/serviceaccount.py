"""Service-account tokens: JWTs this apiserver signs (TokenRequest) and accepts, bound to what they were made for.

As Kubernetes' bound tokens: `sub` is `system:serviceaccount:NS:NAME`, the `kubernetes.io` claim names the
ServiceAccount and the Pod (or Secret, Node) the token is bound to, each with its UID, and a token stops
authenticating as soon as any of them is gone or was replaced by a namesake (another UID) — checked against
this apiserver's in-memory index of those objects, not etcd. Tokens are ES256, with Kubernetes' key id (the
SHA-256 of the public key), so any apiserver holding the public key verifies what another one signed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apiserver.authn.user import ALL_AUTHENTICATED, SERVICE_ACCOUNT_PREFIX, UserInfo
from kube.resources import ResourceType

__all__ = ["DEFAULT_ISSUER", "ObjectIndex", "ServiceAccountAuthenticator", "TokenIssuer", "load_keys"]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ALGORITHM = "ES256"
_CLAIM = "kubernetes.io"
_LEEWAY_SECONDS = 60  # clock skew between apiservers, as Kubernetes' validator allows

Obj = dict[str, Any]


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    """Kubernetes' keyIDFromPublicKey: base64url (no padding) of the SHA-256 of the DER public key."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def load_keys(path: Path) -> tuple[ec.EllipticCurvePrivateKey | None, list[ec.EllipticCurvePublicKey]]:
    """The private key (if the file holds one) and the public keys of a PEM file (a private key counts too)."""
    data = path.read_bytes()
    private, publics = None, []
    for kind in (b"PRIVATE KEY", b"EC PRIVATE KEY"):
        if b"-----BEGIN " + kind + b"-----" in data and private is None:
            key = serialization.load_pem_private_key(_block(data, kind), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: service-account keys must be ECDSA P-256")
            private = key
            publics.append(key.public_key())
    if b"-----BEGIN PUBLIC KEY-----" in data:
        public = serialization.load_pem_public_key(_block(data, b"PUBLIC KEY"))
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ValueError(f"{path}: service-account keys must be ECDSA P-256")
        publics.append(public)
    if not publics:
        raise ValueError(f"{path}: no PEM key found")
    return private, publics


def _block(data: bytes, kind: bytes) -> bytes:
    start = data.index(b"-----BEGIN " + kind + b"-----")
    end_marker = b"-----END " + kind + b"-----"
    return data[start:data.index(end_marker, start) + len(end_marker)]


@dataclass
class ObjectIndex:
    """UIDs (and deletion times) of the objects tokens are bound to, by resource and namespace/name; a
    localinformer.Handler over serviceaccounts, pods, secrets and nodes."""

    def __post_init__(self) -> None:
        self._objects: dict[tuple[str, str, str], tuple[str, str | None]] = {}

    def replace(self, rt: ResourceType, objs: list[Obj]) -> None:
        for key in [k for k in self._objects if k[0] == rt.plural]:
            del self._objects[key]
        for obj in objs:
            self.apply(rt, "ADDED", obj)

    def apply(self, rt: ResourceType, event_type: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (rt.plural, meta.get("namespace", ""), meta["name"])
        if event_type == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = (meta.get("uid", ""), meta.get("deletionTimestamp"))

    def uid(self, resource: str, namespace: str, name: str) -> str | None:
        found = self._objects.get((resource, namespace, name))
        return found[0] if found else None

    def live(self, resource: str, namespace: str, name: str, uid: str) -> bool:
        """It exists with this UID and is not past its deletion time."""
        found = self._objects.get((resource, namespace, name))
        if found is None or found[0] != uid:
            return False
        deleting = found[1]
        return deleting is None or _epoch(deleting) > time.time()


def _epoch(rfc3339: str) -> float:
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class TokenIssuer:
    def __init__(self, private: ec.EllipticCurvePrivateKey, issuer: str) -> None:
        self.private = private
        self.issuer = issuer
        self.kid = key_id(private.public_key())

    def issue(self, namespace: str, account: str, account_uid: str, audiences: Sequence[str], seconds: int,
              bound: Obj | None = None, node: Obj | None = None) -> tuple[str, int]:
        """A signed token and its expiry (epoch seconds). `bound`: {"kind", "name", "uid"} of a Pod or Secret."""
        now = int(time.time())
        private_claim: Obj = {"namespace": namespace, "serviceaccount": {"name": account, "uid": account_uid}}
        if bound is not None:
            private_claim[bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
        if node is not None:
            private_claim["node"] = {"name": node["name"], "uid": node["uid"]}
        claims = {"aud": list(audiences), "exp": now + seconds, "iat": now, "iss": self.issuer,
                  "jti": str(uuid.uuid4()), _CLAIM: private_claim, "nbf": now,
                  "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{account}"}
        return jwt.encode(claims, self.private, algorithm=ALGORITHM, headers={"kid": self.kid}), now + seconds


class ServiceAccountAuthenticator:
    """A TokenAuthenticator for the tokens above (chain.Authenticator tries it after the token file)."""

    def __init__(self, public_keys: Sequence[ec.EllipticCurvePublicKey], issuers: Sequence[str],
                 api_audiences: Sequence[str], index: ObjectIndex) -> None:
        self.keys = {key_id(k): k for k in public_keys}
        self.issuers = list(issuers)
        self.api_audiences = list(api_audiences)
        self.index = index

    def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None  # not a JWT: another authenticator's token
        key = self.keys.get(str(header.get("kid", ""))) if header.get("alg") == ALGORITHM else None
        if key is None:
            return None
        wanted = list(audiences) or self.api_audiences
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=wanted, issuer=self.issuers,
                                leeway=_LEEWAY_SECONDS, options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError:
            return None
        return self._bound_user(claims)

    def _bound_user(self, claims: Obj) -> UserInfo | None:
        private = claims.get(_CLAIM)
        if not isinstance(private, dict):
            return None
        ns, account = private.get("namespace", ""), private.get("serviceaccount") or {}
        if claims["sub"] != f"{SERVICE_ACCOUNT_PREFIX}{ns}:{account.get('name', '')}":
            return None
        if not self.index.live("serviceaccounts", ns, account.get("name", ""), account.get("uid", "")):
            return None
        extra: dict[str, tuple[str, ...]] = {
            "authentication.kubernetes.io/credential-id": (f"JTI={claims.get('jti')}",)}
        for kind, resource in (("pod", "pods"), ("secret", "secrets")):
            ref = private.get(kind)
            if ref is None:
                continue
            if not self.index.live(resource, ns, ref.get("name", ""), ref.get("uid", "")):
                return None
            if kind == "pod":
                extra["authentication.kubernetes.io/pod-name"] = (ref["name"],)
                extra["authentication.kubernetes.io/pod-uid"] = (ref["uid"],)
        node = private.get("node")
        if node is not None:
            extra["authentication.kubernetes.io/node-name"] = (node.get("name", ""),)
            extra["authentication.kubernetes.io/node-uid"] = (node.get("uid", ""),)
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}", ALL_AUTHENTICATED)
        return UserInfo(claims["sub"], account.get("uid", ""), groups, extra)
