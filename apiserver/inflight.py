"""Bounded concurrency: at most --max-requests-inflight reads and --max-mutating-requests-inflight writes run at
once; beyond that a request is answered 429 TooManyRequests with Retry-After at once, as kube-apiserver's
max-in-flight filter does, before it costs more than its headers.

Long-running requests (watches, exec, attach, port-forward, logs, proxy) are not counted, and neither is
`system:masters`, as in Kubernetes, so an administrator can still act on an overloaded server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from apiserver import responses
from apiserver.authn.user import SYSTEM_MASTERS
from apiserver.filters import INFO_KEY, user_of
from apiserver.requestinfo import request_info
from kube import errors

__all__ = ["DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT", "DEFAULT_MAX_REQUESTS_INFLIGHT", "InFlightLimit"]

DEFAULT_MAX_REQUESTS_INFLIGHT = 400
DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200
_LONG_RUNNING_VERBS = ("watch", "proxy")
_LONG_RUNNING_SUBRESOURCES = ("attach", "exec", "proxy", "log", "portforward")
_MUTATING = ("POST", "PUT", "PATCH", "DELETE")


class InFlightLimit:
    """ASGI middleware; runs inside the authentication filter (it needs to know who asks)."""

    def __init__(self, app: Any, max_requests: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
                 max_mutating: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT) -> None:
        self.app = app
        self.limits = {False: max_requests, True: max_mutating}
        self.running = {False: 0, True: 0}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        mutating = scope["method"] in _MUTATING
        limit = self.limits[mutating]
        if limit and self.running[mutating] >= limit:
            err = errors.ApiError("Too many requests, please try again later.", reason="TooManyRequests", code=429,
                                  kind="", name="")
            status = err.to_status()
            status["details"] = {"retryAfterSeconds": 1}
            response = responses.json_response(status, 429)
            response.headers["Retry-After"] = "1"
            await response(scope, receive, send)
            return
        self.running[mutating] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running[mutating] -= 1

    @staticmethod
    def _exempt(scope: dict[str, Any]) -> bool:
        user = user_of(scope)
        if user is not None and SYSTEM_MASTERS in user.groups:
            return True
        info = scope.get(INFO_KEY)
        if info is None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            info = request_info(scope["method"], scope["path"], query)
        return info.verb in _LONG_RUNNING_VERBS or info.subresource in _LONG_RUNNING_SUBRESOURCES
