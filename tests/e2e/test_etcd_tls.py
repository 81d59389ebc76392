"""etcd over TLS with client certificates, as kubeadm runs it: etcd has a CA of its own, the apiserver shows the
certificate that CA issued it (--etcd-cafile/--etcd-certfile/--etcd-keyfile), and nothing else gets in: not a
plaintext client, not a certificate from the cluster CA (which every node and user has one of). --etcd-servers
takes several endpoints and uses the next when one is down."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import aetcd
import grpc
import pytest

from apiserver.etcdclient import EtcdClient, EtcdTLS, parse_endpoints
from cli import certs, supervise
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI


@pytest.fixture(scope="module")
def etcd_pki(workdir: Path) -> certs.EtcdPKI:
    return certs.ensure_etcd(workdir / "etcd-tls-home")


@pytest.fixture(scope="module")
def tls_etcd(etcd_pki: certs.EtcdPKI, workdir: Path) -> Iterator[str]:
    cert, key = etcd_pki.server()
    url, daemon = supervise.start_etcd("etcd-tls", workdir / "etcd-tls", workdir / "logs",
                                       tls=supervise.EtcdServing(cert, key, etcd_pki.ca_file))
    try:
        yield url
    finally:
        supervise.stop(daemon)


def client_flags(etcd_pki: certs.EtcdPKI) -> list[str]:
    cert, key = etcd_pki.client()
    return ["--etcd-cafile", str(etcd_pki.ca_file), "--etcd-certfile", str(cert), "--etcd-keyfile", str(key)]


def test_url_is_https_and_the_apiserver_stores_through_it(
        tls_etcd: str, etcd_pki: certs.EtcdPKI, pki: TestPKI, workdir: Path, run_id: str) -> None:
    assert tls_etcd.startswith("https://")
    server = start_apiserver(pki, tls_etcd, workdir / "logs", "apiserver-etcd-tls", client_flags(etcd_pki))
    try:
        name = f"etcd-tls-{run_id}"
        with server.http() as http:
            created = http.post("/api/v1/namespaces/default/configmaps",
                                json={"metadata": {"name": name}, "data": {"k": "v"}})
            assert created.status_code == 201, created.text
            assert http.get(f"/api/v1/namespaces/default/configmaps/{name}").json()["data"] == {"k": "v"}
        # etcdctl with the apiserver's certificate sees the object in this etcd's keyspace
        cert, key = etcd_pki.client()
        etcdctl = str(Path(supervise.etcd_binary()).with_name("etcdctl"))
        out = subprocess.run([etcdctl, "--endpoints", tls_etcd, "--cacert", str(etcd_pki.ca_file), "--cert",
                              str(cert), "--key", str(key), "get", f"/registry/configmaps/default/{name}",
                              "--print-value-only"], capture_output=True, text=True, timeout=30, check=True)
        assert '"k":"v"' in out.stdout.replace(" ", "")
    finally:
        server.stop()


async def _get(client: aetcd.Client) -> None:
    try:
        await client.connect()
        await client.get(b"/registry/namespaces/default")
    finally:
        await client.close()


async def test_plaintext_and_foreign_ca_clients_are_refused(
        tls_etcd: str, etcd_pki: certs.EtcdPKI, pki: TestPKI) -> None:
    endpoints, https = parse_endpoints(tls_etcd)
    assert https
    host, port = endpoints[0]
    with pytest.raises((aetcd.exceptions.ClientError, grpc.aio.AioRpcError)):
        await _get(aetcd.Client(host=host, port=port, timeout=5))
    # a client certificate from the cluster CA (an admin's) is not one etcd's CA signed
    admin_cert, admin_key = pki.client_cert()
    foreign = EtcdTLS(etcd_pki.ca_file, Path(admin_cert), Path(admin_key))
    with pytest.raises((aetcd.exceptions.ClientError, grpc.aio.AioRpcError)):
        await _get(EtcdClient(endpoints, foreign, timeout=5))
    # no client certificate at all
    with pytest.raises((aetcd.exceptions.ClientError, grpc.aio.AioRpcError)):
        await _get(EtcdClient(endpoints, EtcdTLS(etcd_pki.ca_file), timeout=5))
    # the apiserver's own certificate gets in
    cert, key = etcd_pki.client()
    await _get(EtcdClient(endpoints, EtcdTLS(etcd_pki.ca_file, cert, key), timeout=5))


def test_a_dead_first_endpoint_is_passed_over(
        tls_etcd: str, etcd_pki: certs.EtcdPKI, pki: TestPKI, workdir: Path, run_id: str) -> None:
    dead = f"https://127.0.0.1:{supervise.free_port()}"
    server: Apiserver = start_apiserver(pki, f"{dead},{tls_etcd}", workdir / "logs", "apiserver-etcd-failover",
                                        client_flags(etcd_pki))
    try:
        with server.http() as http:
            resp = http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": f"fo-{run_id}"}})
            assert resp.status_code == 201, resp.text
            ready = http.get("/readyz", params={"verbose": "1"})
            assert ready.status_code == 200 and "[+]etcd ok" in ready.text, ready.text
    finally:
        server.stop()
