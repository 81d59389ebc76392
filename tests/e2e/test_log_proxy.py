"""pods/log through the apiserver to a kubelet endpoint: the node's address and port are looked up, the
query passed through, the apiserver's kubelet client certificate presented over HTTPS, the container defaulted
or demanded, errors mapped.

The kubelet here is a stand-in HTTPS server recording what it is asked and by whom; the real kubelet's log
server is exercised by the kubelet tests (`kubectl logs` against a running pod)."""

from __future__ import annotations

import contextlib
import http.server
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from cli import certs
from kube import errors
from kube.resources import NAMESPACES, NODES, PODS
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

APISERVER = certs.KUBELET_CLIENT.user


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    allowed = APISERVER

    def do_GET(self) -> None:
        url = urlparse(self.path)
        peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
        user = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), None)
        self.seen.append({"path": url.path, "query": parse_qs(url.query), "user": user})
        if user != self.allowed:
            self.send_response(401 if user is None else 403)
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
def fake_kubelet(pki: TestPKI) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.cert_file), str(pki.key_file))
    context.load_verify_locations(pki.ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_logs_are_proxied_to_the_pods_kubelet(apiserver: Apiserver, fake_kubelet: int,
                                                    run_id: str) -> None:
    ns, node = f"logs-{run_id}", f"logs-node-{run_id}"
    async with apiserver.api() as api:
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
            assert asked["user"] == APISERVER  # the apiserver's --kubelet-client-certificate

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


def test_a_kubelet_refusing_the_apiserver_is_an_error_not_a_log(http: httpx.Client, fake_kubelet: int,
                                                               run_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kubelet's 403 comes back as an error Status.
    monkeypatch.setattr(_Recorder, "allowed", "someone-else")
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
        assert resp.status_code == 403 and resp.json()["kind"] == "Status"
        # The kubelet was asked, as the apiserver: the 403 is its answer, not the apiserver refusing the admin.
        assert [s["user"] for s in _Recorder.seen[asked:]] == [APISERVER]
    finally:
        http.delete(f"/api/v1/nodes/{node}")
        http.delete(f"/api/v1/namespaces/{ns}")
