"""The authenticator chain of a request: client certificate, then bearer tokens, then (on some paths) anonymous.

As kube-apiserver's: the first method that recognises the request names the user; credentials that are
presented but invalid are a 401 even where anonymous access would be allowed (FailOnError), unless another
credential of the request is valid (a refused client certificate beside a valid token: the token's user); a
request with no credentials is `system:anonymous` only on the paths anonymous access is enabled for, else a
401. Every authenticated user is also in `system:authenticated`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from apiserver.authn.user import ALL_UNAUTHENTICATED, ANONYMOUS, UserInfo
from apiserver.authn.x509 import PeerCertificate, X509Authenticator
from kube import errors

__all__ = ["CLUSTER_INFO_PATH", "DEFAULT_ANONYMOUS_PATHS", "Authenticator", "TokenAuthenticator"]

#: What kube-apiserver's structured authentication config typically leaves anonymous: health, version, and the
#: public cluster-info a joining node reads before it trusts the CA (kubeadm's discovery; RBAC still decides).
CLUSTER_INFO_PATH = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
DEFAULT_ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version", CLUSTER_INFO_PATH)


class TokenAuthenticator(Protocol):
    def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        """The token's user, or None if this method does not know the token (or it is not for `audiences`)."""


def _bearer(authorization: str) -> str | None:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


@dataclass
class Authenticator:
    tokens: Sequence[TokenAuthenticator] = ()
    anonymous: bool = True
    #: paths (and what is under them) anonymous requests may reach; "*" for every path
    anonymous_paths: Sequence[str] = DEFAULT_ANONYMOUS_PATHS
    x509: X509Authenticator = field(default_factory=X509Authenticator)

    def authenticate(self, path: str, authorization: str | None, peer: PeerCertificate | None) -> UserInfo:
        try:
            user = self.x509.authenticate(peer)
        except errors.Unauthorized:  # as Go's union: a valid token may still name the user, else 401
            refused = True
        else:
            if user is not None:
                return user
            refused = False
        token = _bearer(authorization) if authorization else None
        if token is not None:  # another scheme (Basic...) is not a credential kube-apiserver reads
            user = self.authenticate_bearer(token)
            if user is None:
                raise errors.Unauthorized("Unauthorized")
            return user
        if refused:
            raise errors.Unauthorized("Unauthorized")
        if self.anonymous and self._anonymous_allowed(path):
            return UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
        raise errors.Unauthorized("Unauthorized")

    def authenticate_bearer(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        """The user a bearer token names (also what TokenReview answers), or None."""
        for method in self.tokens:
            user = method.authenticate_token(token, audiences)
            if user is not None:
                return user
        return None

    def _anonymous_allowed(self, path: str) -> bool:
        for allowed in self.anonymous_paths:
            if allowed == "*" or path == allowed or path.startswith(allowed.rstrip("/") + "/"):
                return True
        return False
