# ruff: noqa: F401, F811 (pytest fixtures imported from test_kubelet, then named as test parameters)
"""Port-forward in Kubernetes' WebSocket channel protocol, as the clients other than kubectl speak it, through
a real apiserver to a real kubelet and a busybox httpd in a Docker pod: the official Python client's
`kubernetes.stream.portforward` (subprotocols v5 then v4 offered, v4 answered; two ports, one of them refused
and reported on its error channel), kr8s's `Pod.portforward` (no subprotocol offered; one WebSocket per
local connection), and the rest of the negotiation with a bare WebSocket. kubectl's SPDY port-forward is
tested in tests/e2e/test_kubelet_pods.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import struct

import httpx
import kr8s.asyncio
import pytest
import websockets.asyncio.client
import websockets.exceptions
from kubernetes import client, config
from kubernetes.stream import portforward

from tests.e2e.test_kubelet import Node, kubelet_apiserver, node, phase, statuses, token_file
from tests.e2e.test_kubelet_pods import app, sh
from tests.support.secured import Apiserver

pytestmark = pytest.mark.e2e

WEB = app("web", "mkdir -p /www; echo forwarded > /www/index.html; head -c 1000000 /dev/urandom > /www/big; "
                 "exec httpd -f -p 8080 -h /www")


async def web_pod(node: Node, name: str) -> str:
    """Run the httpd pod; the md5 of its big file."""
    await node.run_pod(name, WEB)
    await node.wait_pod(name, lambda p: phase(p) == "Running" and statuses(p)["web"]["ready"], "Running")
    _, digest = sh(node, name, "web", "md5sum /www/big")
    return digest.split()[0]


def get(sock: object, path: str) -> tuple[int, bytes]:
    """An HTTP GET sent through a socket the client handed out (http.client on it, as the client's docs do)."""
    conn = http.client.HTTPConnection("web", 8080, timeout=15)
    conn.sock = sock  # type: ignore[assignment]
    conn.request("GET", path, headers={"Connection": "close"})
    response = conn.getresponse()
    return response.status, response.read()


async def test_the_official_python_client_port_forwards(node: Node, kubelet_apiserver: Apiserver) -> None:
    digest = await web_pod(node, "pyweb")
    configured = client.Configuration()
    config.load_kube_config(config_file=str(kubelet_apiserver.kubeconfig(embed=True)),
                            client_configuration=configured)
    core = client.CoreV1Api(client.ApiClient(configured))

    def forward(path: str) -> tuple[int, bytes, str | None]:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "pyweb", node.namespace, ports="8080,8099")
        try:
            sock = pf.socket(8080)
            sock.settimeout(15)
            status, body = get(sock, path)
            return status, body, pf.error(8099)
        finally:
            pf.close()

    status, body, error = await asyncio.to_thread(forward, "/index.html")
    assert (status, body) == (200, b"forwarded\n")
    assert error is not None and error.startswith("error forwarding port 8099 to pod ")  # nothing listens there
    status, body, _ = await asyncio.to_thread(forward, "/big")  # a new WebSocket per call
    assert status == 200 and hashlib.md5(body).hexdigest() == digest


async def test_kr8s_port_forwards(node: Node, kubelet_apiserver: Apiserver) -> None:
    digest = await web_pod(node, "krweb")
    api = await kr8s.asyncio.api(kubeconfig=str(kubelet_apiserver.kubeconfig(embed=True)))
    pod = await kr8s.asyncio.objects.Pod.get("krweb", namespace=node.namespace, api=api)
    async with pod.portforward(8080, local_port="auto") as port, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15, trust_env=False) as http:
        assert (await http.get("/index.html")).text == "forwarded\n"
        big = await http.get("/big")  # each local connection is a WebSocket of its own
        assert big.status_code == 200 and hashlib.md5(big.content).hexdigest() == digest
        assert (await http.get("/")).text == "forwarded\n"


async def test_the_apiserver_negotiates_as_kubernetes(node: Node, kubelet_apiserver: Apiserver) -> None:
    """The other offers: the base64 variant (text frames relayed as text), `portforward.k8s.io` as binary
    channels, and a Status 400 for an offer nothing serves or a port that is not one."""
    await web_pod(node, "rawweb")
    url = f"wss{kubelet_apiserver.url[5:]}/api/v1/namespaces/{node.namespace}/pods/rawweb/portforward?ports=8080"
    tls = kubelet_apiserver.pki.ssl_context()  # the admin's client certificate
    request = b"GET / HTTP/1.0\r\n\r\n"
    prefix = struct.pack("<H", 8080)

    async with websockets.asyncio.client.connect(url, subprotocols=["v4.base64.channel.k8s.io"],  # type: ignore[list-item]
                                                 proxy=None, ssl=tls) as ws:
        assert ws.subprotocol == "v4.base64.channel.k8s.io"
        assert [await ws.recv(), await ws.recv()] == [f"{c}{base64.b64encode(prefix).decode()}" for c in "01"]
        await ws.send("0" + base64.b64encode(request).decode())
        body = b"".join([base64.b64decode(m[1:]) async for m in ws if isinstance(m, str) and m[0] == "0"])
        assert body.startswith(b"HTTP/1.1 200 OK") and body.endswith(b"\r\n\r\nforwarded\n")

    async with websockets.asyncio.client.connect(url, subprotocols=["portforward.k8s.io"],  # type: ignore[list-item]
                                                 proxy=None, ssl=tls) as ws:
        assert ws.subprotocol == "portforward.k8s.io"
        assert [await ws.recv(), await ws.recv()] == [b"\x00" + prefix, b"\x01" + prefix]
        await ws.send(b"\x00" + request)
        body = b"".join([m[1:] async for m in ws if isinstance(m, bytes) and m[0] == 0])
        assert body.endswith(b"\r\n\r\nforwarded\n")

    for offered, query, message in ((["v5.channel.k8s.io"], "ports=8080", "requested protocol(s) are not supported"),
                                    ([], "ports=http", 'unable to parse "http" as a port')):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.asyncio.client.connect(url.replace("ports=8080", query), proxy=None, ssl=tls,
                                                    subprotocols=offered or None)  # type: ignore[arg-type]
        status = json.loads(refused.value.response.body or b"{}")
        assert refused.value.response.status_code == 400 and status["kind"] == "Status"
        assert message in status["message"]
