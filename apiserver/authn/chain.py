"""The authenticator chain of a request: client certificate, then bearer tokens, then (on some paths) anonymous.

As kube-apiserver's: the first method that recognises the request names the user; credentials that are
presented but invalid are a 401 even where anonymous access would be allowed (FailOnError); a request with no
credentials is `system:anonymous` only on the paths anonymous access is enabled for, else a 401. Every
authenticated user is also in `system:authenticated`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from apiserver.authn.user import ALL_UNAUTHENTICATED, ANONYMOUS, UserInfo
from apiserver.authn.x509 import PeerCertificate, X509Authenticator
from kube import errors

__all__ = ["DEFAULT_ANONYMOUS_PATHS", "Authenticator", "TokenAuthenticator"]

#: What kube-apiserver's structured authentication config typically leaves anonymous: health and version.
DEFAULT_ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")


class TokenAuthenticator(Protocol):
    def authenticate_token(self, token: str) -> UserInfo | None: ...


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
        user = self.x509.authenticate(peer)
        if user is not None:
            return user
        token = _bearer(authorization) if authorization else None
        if token is not None:  # another scheme (Basic...) is not a credential kube-apiserver reads
            for method in self.tokens:
                user = method.authenticate_token(token)
                if user is not None:
                    return user
            raise errors.Unauthorized("Unauthorized")
        if self.anonymous and self._anonymous_allowed(path):
            return UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
        raise errors.Unauthorized("Unauthorized")

    def _anonymous_allowed(self, path: str) -> bool:
        for allowed in self.anonymous_paths:
            if allowed == "*" or path == allowed or path.startswith(allowed.rstrip("/") + "/"):
                return True
        return False
