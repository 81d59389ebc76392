"""The filters every request passes before a handler, in kube-apiserver's order: authentication,
impersonation, then authorization. A refused request is answered here (401/403 Status) and never reaches a
handler or storage.

The user is left in the ASGI scope (`scope["kubelite.user"]`) for admission and the review APIs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from apiserver import responses
from apiserver.authn.chain import Authenticator
from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Authorizer
from apiserver.authz.chain import forbidden_message
from apiserver.impersonation import impersonate
from apiserver.requestinfo import RequestInfo, request_info
from kube import errors

__all__ = ["INFO_KEY", "USER_KEY", "AuthFilter", "PeerLookup", "attributes_for", "user_of"]

USER_KEY = "kubelite.user"
INFO_KEY = "kubelite.requestinfo"  # the RequestInfo, parsed once for every filter after this one

Scope = dict[str, Any]
PeerLookup = Any  # callable: (host, port) -> PeerCertificate | None


def user_of(scope: Scope) -> UserInfo | None:
    return scope.get(USER_KEY)


def attributes_for(user: UserInfo, info: RequestInfo) -> Attributes:
    return Attributes(user=user, verb=info.verb, resource_request=info.resource_request, namespace=info.namespace,
                      api_group=info.api_group, api_version=info.api_version, resource=info.resource,
                      subresource=info.subresource, name=info.name, path=info.path)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class AuthFilter:
    """ASGI middleware: who is asking (Authenticator) and may they (Authorizer)."""

    def __init__(self, app: Any, authenticator: Authenticator, authorizer: Authorizer, peers: PeerLookup) -> None:
        self.app = app
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.peers = peers

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        method = scope.get("method", "GET")
        client = scope.get("client")
        peer = self.peers(tuple(client)) if client else None
        try:
            user = self.authenticator.authenticate(path, _header(scope, b"authorization"), peer)
            user = impersonate(user, scope.get("headers", ()), self.authorizer)
            info = request_info(method, path, query)
            attrs = attributes_for(user, info)
            verdict = self.authorizer.authorize(attrs)
            if not verdict.allowed:
                why = forbidden_message(attrs) + (f": {verdict.reason}" if verdict.reason else "")
                raise errors.Forbidden.for_resource(info.resource, info.name, info.api_group, why)
        except errors.ApiError as exc:
            await _refuse(scope, receive, send, exc)
            return
        scope[USER_KEY] = user
        scope[INFO_KEY] = info
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Any, send: Any, exc: errors.ApiError) -> None:
    if scope["type"] == "websocket":
        # Before accept, a close is answered as an HTTP 403 by the server; the Status cannot travel.
        await send({"type": "websocket.close", "code": 1008})
        return
    await responses.json_response(exc.to_status(), exc.code)(scope, receive, send)
