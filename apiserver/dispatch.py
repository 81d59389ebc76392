"""Resource requests straight to the generic resource handler, past FastAPI's router.

Nearly every request the apiserver serves is a resource request (`/api/v1/...`, `/apis/G/V/...`) that FastAPI
routes to one of two catch-all endpoints in `apiserver.routes`. Finding that endpoint (its router walks every
included router's routes), solving its dependencies (three path parameters) and wrapping it in FastAPI's
request-response layers cost about a fifth of a pod create and more of a get on this machine. This innermost
middleware sends such a request to `routes.handle` itself, with the same Request, and answers what it raises with
the app's own exception handlers, looked up as Starlette's exception middleware does; everything else goes on to
FastAPI unchanged.

A request takes the short way only when FastAPI could route it nowhere else: an HTTP request whose method the
catch-alls serve, whose path their own pattern matches, and which no other route's path pattern matches (the
review endpoints, exec/attach/portforward, discovery and OpenAPI paths go through FastAPI as before, whatever
their method). The patterns are read from the app's routes when the first request arrives, so routers included
later are seen too; a route of a kind that has no path pattern turns the short way off.

Neighbours: apiserver/app.py (installs it), apiserver/routes.py (the handler and the catch-all routes).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from apiserver import routes

__all__ = ["ResourceDispatch"]

log = logging.getLogger("apiserver.dispatch")

Scope = dict[str, Any]

_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def _flat_routes(entries: list[Any]) -> Iterator[Any]:
    """Every route of a router, in order, through FastAPI's included routers (and Starlette's Mount-less lists)."""
    for entry in entries:
        original = getattr(entry, "original_router", None)
        if original is not None:  # fastapi.routing._IncludedRouter
            yield from _flat_routes(list(original.routes))
            yield from _flat_routes(list(getattr(original, "_low_priority_routes", ()) or ()))
        else:
            yield entry


class _Table:
    """The two catch-all routes and one pattern for every other route's path."""

    def __init__(self, core: Any, group: Any, others: re.Pattern[str]) -> None:
        self.core = core
        self.group = group
        self.others = others
        self.methods = frozenset(core.methods) & frozenset(group.methods)


def _table(app: Any) -> _Table | None:
    core = group = None
    patterns: list[str] = []
    for route in _flat_routes(list(app.router.routes)):
        endpoint = getattr(route, "endpoint", None)
        if endpoint is routes.core_resources:
            core = route
            continue
        if endpoint is routes.group_resources:
            group = route
            continue
        regex = getattr(route, "path_regex", None)
        if regex is None or not regex.pattern.startswith("^") or not regex.pattern.endswith("$"):
            log.info("route %r has no path pattern: resource requests go through FastAPI's router", route)
            return None
        patterns.append(_NAMED_GROUP.sub("(?:", regex.pattern[1:-1]))
    if core is None or group is None:
        return None
    return _Table(core, group, re.compile("^(?:" + "|".join(patterns or ["(?!)"]) + ")$"))


class ResourceDispatch:
    """ASGI middleware, innermost (just outside FastAPI's exception middleware and router)."""

    def __init__(self, app: Any, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._table: _Table | None = None
        self._built = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            if not self._built:
                self._table, self._built = _table(self.fastapi_app), True
            table = self._table
            path: str = scope["path"]
            route = None
            if table is not None and scope["method"] in table.methods:
                route = table.core if path.startswith("/api/") else table.group if path.startswith("/apis/") else None
            match = route.path_regex.match(path) if route is not None else None
            if match is not None and table is not None and table.others.match(path) is None:
                params = match.groupdict()
                await self._serve(scope, receive, send, params.get("group", ""), params["version"])
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Any, send: Any, group: str, version: str) -> None:
        request = Request(scope, receive, send)
        try:
            response = await routes.handle(request, group, version)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # to the server-error handler outside, as from FastAPI's router (a 500 Status)
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        """The app's handler for `exc` as Starlette's exception middleware picks it (the first class of its MRO
        with one), leaving Exception and 500 to the server-error middleware as Starlette does."""
        handlers = self.fastapi_app.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls is Exception or cls is BaseException:
                return None
            if cls in handlers:
                return handlers[cls]
        return None
