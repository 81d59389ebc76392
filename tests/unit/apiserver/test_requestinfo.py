from __future__ import annotations

import pytest

from apiserver.requestinfo import RequestInfo, request_info


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/a/pods", {}, RequestInfo(True, "/api/v1/namespaces/a/pods", "list", "api", "", "v1",
                                                        "a", "pods")),
    ("GET", "/api/v1/namespaces/a/pods", {"watch": "true"},
     RequestInfo(True, "/api/v1/namespaces/a/pods", "watch", "api", "", "v1", "a", "pods")),
    ("GET", "/api/v1/namespaces/a/pods", {"watch": "0"},
     RequestInfo(True, "/api/v1/namespaces/a/pods", "list", "api", "", "v1", "a", "pods")),
    ("GET", "/api/v1/namespaces/a/pods/p/log", {},
     RequestInfo(True, "/api/v1/namespaces/a/pods/p/log", "get", "api", "", "v1", "a", "pods", "log", "p")),
    ("DELETE", "/apis/apps/v1/namespaces/a/deployments", {},
     RequestInfo(True, "/apis/apps/v1/namespaces/a/deployments", "deletecollection", "apis", "apps", "v1", "a",
                 "deployments")),
    ("PATCH", "/api/v1/nodes/n1/status", {},
     RequestInfo(True, "/api/v1/nodes/n1/status", "patch", "api", "", "v1", "", "nodes", "status", "n1")),
    ("GET", "/api/v1/namespaces/a", {}, RequestInfo(True, "/api/v1/namespaces/a", "get", "api", "", "v1", "a",
                                                   "namespaces", "", "a")),
    ("PUT", "/api/v1/namespaces/a/finalize", {},
     RequestInfo(True, "/api/v1/namespaces/a/finalize", "update", "api", "", "v1", "a", "namespaces", "finalize",
                 "a")),
    ("GET", "/api/v1/watch/namespaces/a/pods/p", {},
     RequestInfo(True, "/api/v1/watch/namespaces/a/pods/p", "watch", "api", "", "v1", "a", "pods", "", "p")),
    ("GET", "/api/v1/namespaces/a/pods", {"fieldSelector": "metadata.name=p"},
     RequestInfo(True, "/api/v1/namespaces/a/pods", "list", "api", "", "v1", "a", "pods", "", "p")),
    ("GET", "/apis/apps/v1", {}, RequestInfo(False, "/apis/apps/v1", "get")),
    ("GET", "/api", {}, RequestInfo(False, "/api", "get")),
    ("POST", "/healthz", {}, RequestInfo(False, "/healthz", "post")),
])
def test_request_info_as_kubernetes_reads_it(method: str, path: str, query: dict[str, str],
                                             expected: RequestInfo) -> None:
    assert request_info(method, path, query) == expected
