"""pods/log through the apiserver to a kubelet endpoint: the node's address and port are looked up, the
query passed through, the kubelet token presented, the container defaulted or demanded, errors mapped.

The kubelet here is a stand-in HTTP server recording what it is asked; the real kubelet's log server is
exercised by the kubelet tests (`kubectl logs` against a running pod)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from kube import errors
from kube.resources import NAMESPACES, NODES, PODS
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-kubelet-token"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.seen.append({"path": url.path, "query": parse_qs(url.query), "auth": self.headers.get("Authorization")})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = b"line 1\nline 2\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_kubelet() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def token_apiserver(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    token_file = workdir / "kubelet-token"
    token_file.write_text(TOKEN + "\n")
    server = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-logs",
                             extra=["--kubelet-token-file", str(token_file)])
    try:
        yield server
    finally:
        server.stop()


async def test_logs_are_proxied_to_the_pods_kubelet(token_apiserver: Apiserver, fake_kubelet: int,
                                                    run_id: str) -> None:
    ns, node = f"logs-{run_id}", f"logs-node-{run_id}"
    async with token_apiserver.api() as api:
        await api.create(NAMESPACES, {"metadata": {"name": ns}})
        await api.create(NODES, {"metadata": {"name": node}, "status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": fake_kubelet}}}})
        two = {"metadata": {"name": "two"}, "spec": {"nodeName": node, "containers": [
            {"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}}
        await api.create(PODS, two, ns)
        await api.create(PODS, {"metadata": {"name": "one"}, "spec": {"nodeName": node, "containers": [
            {"name": "only", "image": "busybox"}]}}, ns)
        await api.create(PODS, {"metadata": {"name": "unbound"}, "spec": {"containers": [
            {"name": "c", "image": "busybox"}]}}, ns)
        try:
            text = await api.request_text(PODS.object_path("one", ns, "log"),
                                          {"tailLines": 5, "timestamps": "true", "previous": "true"})
            assert text == "line 1\nline 2\n"
            asked = _Recorder.seen[-1]
            assert asked["path"] == f"/containerLogs/{ns}/one/only"
            assert asked["query"] == {"tailLines": ["5"], "timestamps": ["true"], "previous": ["true"]}
            assert asked["auth"] == f"Bearer {TOKEN}"

            assert await api.request_text(PODS.object_path("two", ns, "log"), {"container": "b"}) == \
                "line 1\nline 2\n"
            with pytest.raises(errors.BadRequest) as info:  # two containers: kubectl's message
                await api.request_text(PODS.object_path("two", ns, "log"))
            assert "a container name must be specified for pod two, choose one of: [a b]" in info.value.message
            with pytest.raises(errors.BadRequest):
                await api.request_text(PODS.object_path("two", ns, "log"), {"container": "nope"})
            with pytest.raises(errors.BadRequest):
                await api.request_text(PODS.object_path("one", ns, "log"), {"tailLines": "-3"})
            with pytest.raises(errors.BadRequest) as info:
                await api.request_text(PODS.object_path("unbound", ns, "log"))
            assert "not yet scheduled" in info.value.message
        finally:
            with contextlib.suppress(errors.ApiError):
                await api.delete(NODES, node)
            with contextlib.suppress(errors.ApiError):
                await api.delete(NAMESPACES, ns)


def test_kubelet_refusing_the_token_is_an_error_not_a_log(http: httpx.Client, fake_kubelet: int, run_id: str) -> None:
    # The session apiserver has no kubelet token: the kubelet's 401 comes back as an error Status.
    ns, node = f"logs2-{run_id}", f"logs2-node-{run_id}"
    http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    http.post("/api/v1/nodes", json={"metadata": {"name": node}, "status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": fake_kubelet}}}}).raise_for_status()
    http.post(f"/api/v1/namespaces/{ns}/pods", json={"metadata": {"name": "p"}, "spec": {
        "nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}).raise_for_status()
    try:
        asked = len(_Recorder.seen)
        resp = http.get(f"/api/v1/namespaces/{ns}/pods/p/log")
        assert resp.status_code == 401 and resp.json()["kind"] == "Status"
        # The kubelet was asked, without a token: the 401 is its answer, not the apiserver refusing the admin.
        assert [s["auth"] for s in _Recorder.seen[asked:]] == [None]
    finally:
        http.delete(f"/api/v1/nodes/{node}")
        http.delete(f"/api/v1/namespaces/{ns}")
