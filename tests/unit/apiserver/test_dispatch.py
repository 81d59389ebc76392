"""apiserver.dispatch: which requests take the short way to routes.handle, and that its answers are the app's.

Aspects: the route table is built from the real app (a route kind without a path pattern would silently send
everything through FastAPI again); a path any other route matches (reviews, exec, discovery) or a method the
catch-alls do not serve goes on to FastAPI; an ApiError is answered by the app's own handler; other errors
propagate as from FastAPI's router.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.responses import Response

from apiserver import dispatch, routes
from apiserver.app import Settings, create_app
from kube import errors


@pytest.fixture
def app() -> Any:
    return create_app(Settings())


def test_the_table_is_built_from_the_app(app: Any) -> None:
    table = dispatch._table(app)
    assert table is not None
    assert table.methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.mark.parametrize("path", [
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews",
    "/apis/authentication.k8s.io/v1/tokenreviews",
    "/api/v1/namespaces/a/pods/p/exec",
    "/api/v1/namespaces/a/pods/p/portforward",
    "/api/v1", "/apis/apps", "/apis/apps/v1", "/openapi/v2",
], ids=lambda p: p.strip("/").replace("/", "-"))
def test_paths_other_routes_match_go_to_fastapi(app: Any, path: str) -> None:
    table = dispatch._table(app)
    assert table is not None and table.others.match(path) is not None


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/a/pods", "/api/v1/namespaces/a/pods/p", "/api/v1/namespaces/a/pods/p/status",
    "/api/v1/nodes", "/apis/apps/v1/namespaces/a/deployments/d/scale", "/api/v1/",
], ids=lambda p: p.strip("/").replace("/", "-"))
def test_resource_paths_take_the_short_way(app: Any, path: str) -> None:
    table = dispatch._table(app)
    assert table is not None and table.others.match(path) is None


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [], "root_path": "", "app": None}


async def _run(middleware: dispatch.ResourceDispatch, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


async def test_which_requests_reach_the_handler(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handled: list[tuple[str, str, str]] = []
    passed: list[str] = []

    async def handle(request: Any, group: str, version: str) -> Response:
        handled.append((request.scope["path"], group, version))
        return Response(b"{}", media_type="application/json")

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        passed.append(f"{scope['method']} {scope['path']}")

    monkeypatch.setattr(routes, "handle", handle)
    middleware = dispatch.ResourceDispatch(inner, fastapi_app=app)
    for method, path in [("GET", "/api/v1/namespaces/a/pods/p"), ("POST", "/apis/apps/v1/namespaces/a/deployments"),
                         ("HEAD", "/api/v1/namespaces/a/pods/p"), ("GET", "/api/v1"),
                         ("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), ("GET", "/healthz")]:
        await _run(middleware, _scope(method, path))
    assert handled == [("/api/v1/namespaces/a/pods/p", "", "v1"),
                       ("/apis/apps/v1/namespaces/a/deployments", "apps", "v1")]
    assert passed == ["HEAD /api/v1/namespaces/a/pods/p", "GET /api/v1",
                      "POST /apis/authentication.k8s.io/v1/tokenreviews", "GET /healthz"]


async def test_an_api_error_is_the_apps_status_and_others_propagate(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def not_found(request: Any, group: str, version: str) -> Response:
        raise errors.NotFound.for_object("pods", "p")

    async def broken(request: Any, group: str, version: str) -> Response:
        raise KeyError("boom")

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("not for FastAPI")

    middleware = dispatch.ResourceDispatch(inner, fastapi_app=app)
    monkeypatch.setattr(routes, "handle", not_found)
    start, body = await _run(middleware, _scope("GET", "/api/v1/namespaces/a/pods/p"))
    status = json.loads(body["body"])
    assert start["status"] == 404
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    monkeypatch.setattr(routes, "handle", broken)
    with pytest.raises(KeyError):
        await _run(middleware, _scope("GET", "/api/v1/namespaces/a/pods/p"))
