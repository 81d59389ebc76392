"""The audit log (apiserver.audit): policy rules matched as Kubernetes' policy checker matches them (first match
wins; users, groups, verbs, resources with subresources and names, namespaces, non-resource URLs), the Policy's
validation, and the events of real requests through AuthFilter: their shape, stages, levels (no body at
Metadata), 401 with an empty user, 403 with the decision, a watch's ResponseStarted, and the JSON-lines writer
with rotation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from apiserver import audit
from apiserver.authn.chain import Authenticator
from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Decision, Verdict
from apiserver.filters import AuthFilter
from apiserver.requestinfo import request_info

ALICE = UserInfo("alice", "u-1", ("devs", "system:authenticated"))
NODE = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def policy(*rules: dict[str, Any], **top: Any) -> audit.Policy:
    return audit.parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **top})


def info(method: str, path: str, **query: str):
    return request_info(method, path, query)


@pytest.mark.parametrize(("rule", "user", "req", "matches"), [
    ({"level": "Metadata"}, None, info("GET", "/healthz"), True),
    ({"level": "Metadata", "users": ["alice"]}, ALICE, info("GET", "/api/v1/pods"), True),
    ({"level": "Metadata", "users": ["bob"]}, ALICE, info("GET", "/api/v1/pods"), False),
    ({"level": "Metadata", "users": ["alice"]}, None, info("GET", "/api/v1/pods"), False),
    ({"level": "Metadata", "userGroups": ["devs"]}, ALICE, info("GET", "/api/v1/pods"), True),
    ({"level": "Metadata", "userGroups": ["system:nodes"]}, ALICE, info("GET", "/api/v1/pods"), False),
    ({"level": "Metadata", "verbs": ["watch"]}, ALICE, info("GET", "/api/v1/pods", watch="true"), True),
    ({"level": "Metadata", "verbs": ["watch"]}, ALICE, info("GET", "/api/v1/pods"), False),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}, ALICE,
     info("GET", "/api/v1/namespaces/a/secrets/s"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}, ALICE,
     info("GET", "/apis/apps/v1/namespaces/a/deployments"), False),
    ({"level": "Metadata", "resources": [{"group": "apps"}]}, ALICE,
     info("GET", "/apis/apps/v1/namespaces/a/deployments"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["pods"]}]}, ALICE,
     info("GET", "/api/v1/namespaces/a/pods/p/log"), False),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["pods/log"]}]}, ALICE,
     info("GET", "/api/v1/namespaces/a/pods/p/log"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["*/status"]}]}, ALICE,
     info("PUT", "/api/v1/nodes/n1/status"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["pods/*"]}]}, ALICE,
     info("POST", "/api/v1/namespaces/a/pods/p/eviction"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["*"]}]}, ALICE,
     info("GET", "/api/v1/namespaces/a/configmaps"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["c1"]}]},
     ALICE, info("GET", "/api/v1/namespaces/a/configmaps/c1"), True),
    ({"level": "Metadata", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["c1"]}]},
     ALICE, info("GET", "/api/v1/namespaces/a/configmaps/c2"), False),
    ({"level": "Metadata", "namespaces": ["kube-system"]}, ALICE, info("GET", "/api/v1/namespaces/kube-system/pods"),
     True),
    ({"level": "Metadata", "namespaces": ["kube-system"]}, ALICE, info("GET", "/api/v1/namespaces/a/pods"), False),
    ({"level": "Metadata", "namespaces": [""]}, ALICE, info("GET", "/api/v1/nodes"), True),
    ({"level": "Metadata", "namespaces": ["a"]}, ALICE, info("GET", "/healthz"), False),
    ({"level": "Metadata", "nonResourceURLs": ["/healthz*"]}, None, info("GET", "/healthz/etcd"), True),
    ({"level": "Metadata", "nonResourceURLs": ["/version"]}, None, info("GET", "/versions"), False),
    ({"level": "Metadata", "nonResourceURLs": ["*"]}, None, info("GET", "/api/v1/pods"), False),
], ids=["catch-all", "user", "other-user", "user-unknown", "group", "other-group", "verb", "other-verb",
        "resource", "other-group-resource", "whole-group", "subresource-not-parent", "subresource", "any-status",
        "any-subresource-of", "any-resource", "resource-name", "other-resource-name", "namespace",
        "other-namespace", "cluster-scoped", "namespaces-only-resources", "url-wildcard", "url-exact",
        "urls-only-non-resource"])
def test_rule_matching(rule: dict[str, Any], user: UserInfo | None, req: Any, matches: bool) -> None:
    decision = policy(rule).evaluate(user, req)
    assert (decision.level == "Metadata") is matches


def test_first_matching_rule_wins_and_stages_add_up() -> None:
    p = policy({"level": "None", "users": ["system:node:n1"], "verbs": ["watch"]},
               {"level": "RequestResponse", "resources": [{"group": "", "resources": ["configmaps"]}],
                "omitStages": ["ResponseStarted"]},
               {"level": "Metadata"}, omitStages=["RequestReceived"])
    assert p.evaluate(NODE, info("GET", "/api/v1/pods", watch="1")).level == "None"
    found = p.evaluate(NODE, info("GET", "/api/v1/namespaces/a/configmaps"))
    assert found.level == "RequestResponse"
    assert found.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert p.evaluate(ALICE, info("GET", "/api/v1/pods")).level == "Metadata"
    assert policy({"level": "Metadata", "users": ["x"]}).evaluate(ALICE, info("GET", "/api")).level == "None"


@pytest.mark.parametrize(("doc", "message"), [
    ({"rules": []}, "0 rules"),
    ({"rules": [{}]}, "level: Required value"),
    ({"rules": [{"level": "Everything"}]}, "Unsupported value"),
    ({"rules": [{"level": "Metadata", "omitStages": ["Later"]}]}, "Unsupported value"),
    ({"rules": [{"level": "Metadata", "nonResourceURLs": ["/x"], "namespaces": ["a"]}]}, "cannot apply to both"),
    ({"rules": [{"level": "Metadata", "nonResourceURLs": ["healthz"]}]}, 'must begin with a "/"'),
    ({"rules": [{"level": "Metadata", "resources": [{"resources": ["*"], "resourceNames": ["a"]}]}]},
     "wildcard"),
    ({"kind": "Other", "rules": [{"level": "Metadata"}]}, "unexpected config type"),
], ids=["no-rules", "no-level", "bad-level", "bad-stage", "both", "relative-url", "names-with-wildcard", "kind"])
def test_invalid_policy(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(audit.PolicyError, match=message):
        audit.parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", **doc})


def test_load_policy_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n")
    assert audit.load_policy(path).rules[0].level == "Metadata"


# ---------------------------------------------------------------------------------------------- requests


class Tokens:
    def __init__(self, users: dict[str, UserInfo]) -> None:
        self.users = users

    def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        return self.users.get(token)


class OnlyAlice:
    def authorize(self, attrs: Attributes) -> Verdict:
        if attrs.user.name == "alice":
            return Verdict(Decision.ALLOW, 'RBAC: allowed by ClusterRoleBinding "alice"')
        return Verdict(Decision.NO_OPINION, "")


class Collect:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def process(self, event: dict[str, Any]) -> None:
        self.events.append(audit.apply_bodies(event))


def make_app(p: audit.Policy, sink: Collect) -> Any:
    inner = FastAPI()

    @inner.post("/api/v1/namespaces/{ns}/secrets")
    async def create(ns: str, request: Request) -> JSONResponse:
        body = await request.json()
        body["metadata"]["uid"] = "uid-1"
        return JSONResponse(body, status_code=201)

    @inner.get("/api/v1/namespaces/{ns}/secrets/{name}")
    async def get(ns: str, name: str) -> JSONResponse:
        return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": f'secrets "{name}" not found', "reason": "NotFound",
                             "details": {"name": name, "kind": "secrets"}, "code": 404}, status_code=404)

    @inner.get("/api/v1/pods")
    async def pods(watch: str = "") -> Any:
        if watch:
            async def events() -> Any:
                yield b'{"type":"ADDED","object":{}}\n'
            return StreamingResponse(events(), media_type="application/json")
        return JSONResponse({"kind": "PodList", "items": []})

    @inner.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    authenticator = Authenticator(tokens=[Tokens({"alice": ALICE, "node": NODE})], anonymous_paths=())
    app: Any = AuthFilter(inner, audit.recording_authenticator(authenticator), audit.recording_authorizer(OnlyAlice()),
                          peers=lambda _client: None)
    return audit.AuditFilter(app, p, sink)  # type: ignore[arg-type]  # any backend with process()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False,
                                                           client=("10.0.0.7", 5555)),
                             base_url="http://apiserver")


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "data": {"password": "aHVudGVyMg=="}}


async def test_metadata_event_shape_and_no_body() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "Metadata"}), sink)) as http:
        resp = await http.post("/api/v1/namespaces/a/secrets?fieldManager=kubectl", json=SECRET,
                               headers={"Authorization": "Bearer alice", "User-Agent": "kubectl/v1.37.0",
                                        "X-Forwarded-For": "192.0.2.1"})
    assert resp.status_code == 201
    received, complete = sink.events
    assert resp.headers["audit-id"] == received["auditID"] == complete["auditID"]
    assert received["stage"] == "RequestReceived" and complete["stage"] == "ResponseComplete"
    assert list(complete) == ["kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
                              "sourceIPs", "userAgent", "objectRef", "responseStatus", "requestReceivedTimestamp",
                              "stageTimestamp", "annotations"]
    assert complete["kind"] == "Event" and complete["apiVersion"] == "audit.k8s.io/v1"
    assert complete["level"] == "Metadata" and complete["verb"] == "create"
    assert complete["requestURI"] == "/api/v1/namespaces/a/secrets?fieldManager=kubectl"
    assert complete["user"] == {"username": "alice", "uid": "u-1", "groups": ["devs", "system:authenticated"]}
    assert complete["sourceIPs"] == ["192.0.2.1", "10.0.0.7"]
    assert complete["userAgent"] == "kubectl/v1.37.0"
    assert complete["objectRef"] == {"resource": "secrets", "namespace": "a", "name": "s1", "apiVersion": "v1"}
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["annotations"] == {"authorization.k8s.io/decision": "allow",
                                       "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "alice"'}
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert complete["requestReceivedTimestamp"].endswith("Z") and len(complete["stageTimestamp"]) == 27
    assert "responseStatus" not in received
    text = json.dumps(sink.events)
    assert "aHVudGVyMg==" not in text and "requestObject" not in text and "responseObject" not in text


async def test_request_and_request_response_levels_carry_the_bodies() -> None:
    for level, request, response in [("Request", True, False), ("RequestResponse", True, True)]:
        sink = Collect()
        async with client(make_app(policy({"level": level}, omitStages=["RequestReceived"]), sink)) as http:
            await http.post("/api/v1/namespaces/a/secrets", json=SECRET, headers={"Authorization": "Bearer alice"})
        (event,) = sink.events
        assert ("requestObject" in event) is request and ("responseObject" in event) is response
        assert event["requestObject"] == SECRET
        if response:
            assert event["responseObject"]["metadata"]["uid"] == "uid-1"
        keys = list(event)
        assert keys.index("responseStatus") < keys.index("requestObject") < keys.index("requestReceivedTimestamp")


async def test_an_error_status_is_copied_at_metadata() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "Metadata"}), sink)) as http:
        await http.get("/api/v1/namespaces/a/secrets/gone", headers={"Authorization": "Bearer alice"})
    assert sink.events[-1]["responseStatus"] == {
        "metadata": {}, "status": "Failure", "message": 'secrets "gone" not found', "reason": "NotFound",
        "details": {"name": "gone", "kind": "secrets"}, "code": 404}


async def test_failed_authentication_is_one_event_with_an_empty_user() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "Metadata"}), sink)) as http:
        assert (await http.get("/api/v1/pods", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.get("/api/v1/pods")).status_code == 401
    first, second = sink.events
    assert first["stage"] == "ResponseStarted" and first["user"] == {}
    assert first["verb"] == "list" and first["objectRef"] == {"resource": "pods", "apiVersion": "v1"}
    assert first["responseStatus"]["code"] == 401 and first["responseStatus"]["reason"] == "Unauthorized"
    assert "annotations" not in first
    assert second["user"] == {}


async def test_forbidden_carries_the_user_and_the_decision() -> None:
    sink = Collect()
    p = policy({"level": "None", "users": ["nobody"]}, {"level": "Metadata", "userGroups": ["system:nodes"]})
    async with client(make_app(p, sink)) as http:
        assert (await http.get("/api/v1/pods", headers={"Authorization": "Bearer node"})).status_code == 403
        assert (await http.get("/api/v1/pods", headers={"Authorization": "Bearer alice"})).status_code == 200
    received, complete = sink.events  # alice matches no rule: not audited
    assert received["stage"] == "RequestReceived" and complete["stage"] == "ResponseComplete"
    assert complete["user"]["username"] == "system:node:n1"
    assert complete["annotations"] == {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""}
    assert complete["responseStatus"]["code"] == 403 and complete["responseStatus"]["reason"] == "Forbidden"


async def test_a_watch_logs_response_started_then_complete() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "RequestResponse"}), sink)) as http:
        resp = await http.get("/api/v1/pods?watch=true", headers={"Authorization": "Bearer alice"})
    assert resp.status_code == 200
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert sink.events[1]["responseStatus"] == {"metadata": {}, "code": 200}
    assert sink.events[-1]["verb"] == "watch" and "responseObject" not in sink.events[-1]


async def test_a_handler_that_raises_is_a_panic_event() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "Metadata"}), sink)) as http:
        await http.get("/boom", headers={"Authorization": "Bearer alice"})
    assert sink.events[-1]["stage"] == "Panic"
    assert sink.events[-1]["responseStatus"]["message"] == "APIServer panic'd: kaput"
    assert sink.events[-1]["responseStatus"]["code"] == 500


async def test_a_client_audit_id_is_kept() -> None:
    sink = Collect()
    async with client(make_app(policy({"level": "Metadata"}), sink)) as http:
        resp = await http.get("/api/v1/pods", headers={"Authorization": "Bearer alice", "Audit-ID": "my-id"})
    assert resp.headers["audit-id"] == "my-id" and {e["auditID"] for e in sink.events} == {"my-id"}


# ---------------------------------------------------------------------------------------------- the log file


def test_log_backend_writes_json_lines_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.log"
    backend = audit.LogBackend(str(path), max_size_mb=1, max_backups=1)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    padding = "x" * 1000
    for i in range(2500):  # ~2.6 MB: two rotations, one backup kept
        backend.process({"kind": "Event", "auditID": str(i), "annotations": {"pad": padding}})
    backend.close()
    backups = [p for p in path.parent.iterdir() if p != path]
    assert len(backups) == 1 and backups[0].name.startswith("audit-") and backups[0].suffix == ".log"
    lines = path.read_text().splitlines()
    assert lines and json.loads(lines[-1])["auditID"] == "2499"
    assert all(p.stat().st_size <= 1024 * 1024 for p in (path, *backups))
