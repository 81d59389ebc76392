"""The audit log of a real apiserver (--audit-policy-file, --audit-log-path): a Metadata-level request logged with
its user, verb, objectRef, code and authorization decision; a Secret created at RequestResponse carries its
request and response objects, one at Metadata none of its data; a request without credentials is a 401 event
with an empty user, a refused one a 403 with the user and `forbid`; a watch logs ResponseStarted, then
ResponseComplete when it ends; the Audit-Id header names the events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import certs
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/healthz*", "/livez*"]
  - level: RequestResponse
    resources: [{group: "", resources: [secrets]}]
    namespaces: [audit-rr]
  - level: Metadata
    resources: [{group: "", resources: [secrets, configmaps]}]
  - level: Metadata
"""
VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"  # base64 of "super-secret-value"
STRANGER = certs.Identity("audit-stranger", ("audit-testers",))


@pytest.fixture(scope="module")
def audited(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[tuple[Apiserver, Path]]:
    policy = workdir / "audit-policy.yaml"
    policy.write_text(POLICY)
    log = workdir / "audit" / "audit.log"
    # The suite's Node,RBAC, as every apiserver of the suite authorizes.
    server = start_apiserver(pki, etcd_url, workdir / "logs", "apiserver-audit",
                             ["--audit-policy-file", str(policy), "--audit-log-path", str(log)])
    try:
        yield server, log
    finally:
        server.stop()


def events(log: Path, audit_id: str, want: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The events of one request, waiting for the writer thread to have written `want` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in map(json.loads, log.read_text().splitlines()) if e["auditID"] == audit_id] \
            if log.exists() else []
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def ensure_namespace(server: Apiserver, name: str) -> None:
    with server.http() as http:
        if http.get(f"/api/v1/namespaces/{name}").status_code == 404:
            http.post("/api/v1/namespaces", json={"metadata": {"name": name}})


def test_a_metadata_request_is_logged_with_user_and_code(audited: tuple[Apiserver, Path]) -> None:
    server, log = audited
    with server.http() as http:
        resp = http.get("/api/v1/namespaces/default/configmaps", headers={"User-Agent": "audit-test/1"})
    assert resp.status_code == 200
    (event,) = events(log, resp.headers["Audit-Id"])
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["level"] == "Metadata" and event["stage"] == "ResponseComplete" and event["verb"] == "list"
    assert event["requestURI"] == "/api/v1/namespaces/default/configmaps"
    assert event["user"]["username"] == "kubernetes-admin" and "system:masters" in event["user"]["groups"]
    assert event["sourceIPs"] == ["127.0.0.1"] and event["userAgent"] == "audit-test/1"
    assert event["objectRef"] == {"resource": "configmaps", "namespace": "default", "apiVersion": "v1"}
    assert event["responseStatus"] == {"metadata": {}, "code": 200}
    assert event["annotations"]["authorization.k8s.io/decision"] == "allow"
    assert event["requestReceivedTimestamp"] <= event["stageTimestamp"]
    assert "responseObject" not in event and "requestObject" not in event


def test_secret_create_at_request_response_and_at_metadata(audited: tuple[Apiserver, Path]) -> None:
    server, log = audited
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "audited"}, "data": {"token": VALUE}}
    ids = {}
    for namespace in ("audit-rr", "audit-md"):
        ensure_namespace(server, namespace)
        with server.http() as http:
            resp = http.post(f"/api/v1/namespaces/{namespace}/secrets", json=secret)
        assert resp.status_code in (201, 409), resp.text
        if resp.status_code == 409:  # a rerun against the session's etcd
            pytest.skip("the Secrets exist from an earlier run")
        ids[namespace] = resp.headers["Audit-Id"]
    (full,) = events(log, ids["audit-rr"])
    assert full["level"] == "RequestResponse" and full["verb"] == "create"
    assert full["objectRef"]["name"] == "audited" and full["objectRef"]["namespace"] == "audit-rr"
    assert full["requestObject"]["data"] == {"token": VALUE}
    assert full["responseObject"]["data"] == {"token": VALUE} and full["responseObject"]["metadata"]["uid"]
    assert full["responseStatus"]["code"] == 201
    (meta,) = events(log, ids["audit-md"])
    assert meta["level"] == "Metadata" and meta["objectRef"]["name"] == "audited"
    assert meta["responseStatus"] == {"metadata": {}, "code": 201}
    assert VALUE not in json.dumps(meta)


def test_unauthenticated_and_forbidden_requests_are_audited(audited: tuple[Apiserver, Path]) -> None:
    server, log = audited
    with server.http(identity=None) as anonymous:
        resp = anonymous.get("/api/v1/namespaces/default/pods")
    assert resp.status_code == 401
    (event,) = events(log, resp.headers["Audit-Id"])
    assert event["stage"] == "ResponseStarted" and event["user"] == {}
    assert event["responseStatus"]["code"] == 401 and event["responseStatus"]["reason"] == "Unauthorized"
    with server.http(identity=STRANGER) as stranger:
        resp = stranger.get("/api/v1/namespaces/default/secrets")
    assert resp.status_code == 403
    (event,) = events(log, resp.headers["Audit-Id"])
    assert event["user"]["username"] == "audit-stranger" and "audit-testers" in event["user"]["groups"]
    assert event["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert event["responseStatus"]["code"] == 403 and event["responseStatus"]["reason"] == "Forbidden"
    assert 'User "audit-stranger" cannot list resource "secrets"' in event["responseStatus"]["message"]


def test_a_watch_is_started_then_complete(audited: tuple[Apiserver, Path]) -> None:
    server, log = audited
    with server.http() as http:
        resp = http.get("/api/v1/namespaces/default/configmaps", params={"watch": "true", "timeoutSeconds": "1"})
    assert resp.status_code == 200
    found = events(log, resp.headers["Audit-Id"], want=2)
    assert [e["stage"] for e in found] == ["ResponseStarted", "ResponseComplete"]
    assert all(e["verb"] == "watch" and e["responseStatus"]["code"] == 200 for e in found)
    assert found[0]["stageTimestamp"] <= found[1]["stageTimestamp"]


def test_health_checks_are_not_audited(audited: tuple[Apiserver, Path]) -> None:
    server, log = audited
    with server.http() as http:
        resp = http.get("/readyz")
    assert resp.status_code == 200
    assert events(log, resp.headers["Audit-Id"], timeout=1.0) == []
