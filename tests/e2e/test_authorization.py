"""Who gets in and what they may do, against a real apiserver over real TLS with Node,RBAC, as users run it:
401 for who is nobody, RBAC's view role exactly as far as it reaches (and `kubectl auth can-i` agreeing with
every answer), a kubelet confined to its own node, and the review APIs kubectl and clients ask."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli import certs, supervise
from kube import pki as kpki
from tests.e2e.test_kubectl import kubectl_binary
from tests.support.secured import Apiserver, TestPKI, start_apiserver

pytestmark = pytest.mark.e2e

ALICE = certs.Identity("alice", ("developers",))
NODE_A = certs.node_identity("authz-n1")
NODE_B = certs.node_identity("authz-n2")
TOKEN = "tok-bob-0123456789"


@pytest.fixture(scope="module")
def rbac_apiserver(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    tokens = workdir / "authz-tokens.csv"
    tokens.write_text(f'{TOKEN},bob,1001,"ops"\n')
    server = start_apiserver(pki, etcd_url, workdir / "logs", "apiserver-rbac",
                             ["--authorization-mode", "Node,RBAC", "--token-auth-file", str(tokens),
                              "--enable-bootstrap-token-auth",
                              "--service-account-signing-key-file", str(pki.cluster.service_account_key())])
    controllers = supervise.start("controllers-rbac", server.daemon_argv("controllers"), workdir / "logs")
    try:
        with server.http() as admin:  # the aggregation controller fills `view` in
            supervise.wait_for(lambda: _has_rules(admin, "view"), 60, "ClusterRole view aggregated")
        yield server
    finally:
        supervise.stop(controllers)
        server.stop()


def _has_rules(admin: httpx.Client, role: str) -> bool:
    resp = admin.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}")
    return resp.status_code == 200 and any("pods" in r.get("resources", []) for r in resp.json().get("rules") or [])


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body)


@pytest.fixture(scope="module")
def namespaces(rbac_apiserver: Apiserver, run_id: str) -> tuple[str, str]:
    a, b = f"authz-a-{run_id}", f"authz-b-{run_id}"
    with rbac_apiserver.http() as admin:
        for ns in (a, b):
            assert _post(admin, "/api/v1/namespaces", {"metadata": {"name": ns}}).status_code == 201
        binding = {"metadata": {"name": "alice-view"}, "subjects": [
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"}}
        assert _post(admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{a}/rolebindings",
                     binding).status_code == 201
        for ns in (a, b):
            pod = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}
            assert _post(admin, f"/api/v1/namespaces/{ns}/pods", pod).status_code == 201
    return a, b


def _status(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert body["kind"] == "Status", body
    return body


def test_nobody_gets_a_401_and_health_stays_public(rbac_apiserver: Apiserver, pki: TestPKI) -> None:
    with rbac_apiserver.http(None) as anonymous:
        refused = anonymous.get("/api/v1/namespaces/default/pods")
        assert refused.status_code == 401 and _status(refused)["reason"] == "Unauthorized"
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/version").status_code == 200
        wrong = anonymous.get("/api/v1/pods", headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401
        health_with_wrong_token = anonymous.get("/healthz", headers={"Authorization": "Bearer not-a-token"})
        assert health_with_wrong_token.status_code == 401  # presented and invalid: never anonymous
    with rbac_apiserver.http(None, headers={"Authorization": f"Bearer {TOKEN}"}) as bob:
        denied = bob.get("/api/v1/namespaces/default/secrets")
        assert denied.status_code == 403
        assert _status(denied)["message"] == ('secrets is forbidden: User "bob" cannot list resource "secrets" in '
                                              'API group "" in the namespace "default"')


def _client_with(pki_dir: Path, ca: kpki.CertificateAuthority, name: str, **issue: Any) -> tuple[str, str]:
    return tuple(str(p) for p in ca.issue(name, organizations=["system:masters"], **issue).write(  # type: ignore
        pki_dir / f"{name}.crt", pki_dir / f"{name}.key"))


def test_foreign_expired_and_server_only_certificates_get_401(rbac_apiserver: Apiserver, pki: TestPKI,
                                                             tmp_path: Path, run_id: str) -> None:
    from kube.client.rest import tls_context

    refused = {
        "foreign": _client_with(tmp_path, kpki.CertificateAuthority.create("mallory-ca"), "mallory"),
        "expired": _client_with(tmp_path, pki.cluster.ca, "late", validity=datetime.timedelta(seconds=-60)),
        "server-only": _client_with(tmp_path, pki.cluster.ca, "server", client=False, server=True),
    }
    body = {"metadata": {"name": f"intruder-{run_id}"}}
    for kind, cert in refused.items():
        # As Kubernetes: the handshake takes the certificate, the authenticator refuses it with a Status.
        with httpx.Client(base_url=rbac_apiserver.url, verify=tls_context(pki.ca_file, cert), timeout=10) as client:
            created = client.post("/api/v1/namespaces", json=body)
            assert created.status_code == 401, kind
            assert _status(created)["reason"] == "Unauthorized", kind
            assert client.get("/healthz").status_code == 401, kind  # presented and invalid: not anonymous
            # a valid token on the same connection still names its user (Go's union of authenticators)
            bob = client.get("/api/v1/namespaces/default/secrets", headers={"Authorization": f"Bearer {TOKEN}"})
            assert bob.status_code == 403 and 'User "bob"' in _status(bob)["message"], kind
    with rbac_apiserver.http() as admin:
        assert admin.get(f"/api/v1/namespaces/intruder-{run_id}").status_code == 404


def _bootstrap_secret(token_id: str, expires_in: int, **extra: str) -> dict[str, Any]:
    expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in)
    data = {"token-id": token_id, "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true",
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"), **extra}
    return {"metadata": {"name": f"bootstrap-token-{token_id}", "labels": {"kubelite-test": "authz"}},
            "type": "bootstrap.kubernetes.io/token", "stringData": data}


def test_bootstrap_tokens_name_their_user_while_their_secret_is_valid(rbac_apiserver: Apiserver,
                                                                      run_id: str) -> None:
    import hashlib

    live, old = (hashlib.sha256(f"{run_id}{n}".encode()).hexdigest()[:6] for n in ("live", "old"))
    secrets = "/api/v1/namespaces/kube-system/secrets"
    with rbac_apiserver.http() as admin:
        assert _post(admin, secrets, _bootstrap_secret(
            live, 3600, **{"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"})).status_code == 201
        assert _post(admin, secrets, _bootstrap_secret(old, -60)).status_code == 201

        def review(token: str) -> httpx.Response:
            with rbac_apiserver.http(None, headers={"Authorization": f"Bearer {token}"}) as node:
                return _post(node, "/apis/authentication.k8s.io/v1/selfsubjectreviews", {})

        supervise.wait_for(lambda: review(f"{live}.0123456789abcdef").status_code == 201, 10, "bootstrap token")
        who = review(f"{live}.0123456789abcdef").json()["status"]["userInfo"]
        assert who == {"username": f"system:bootstrap:{live}", "groups": [
            "system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"]}
        for refused in (f"{live}.ffffffffffffffff", f"{old}.0123456789abcdef"):
            resp = review(refused)
            assert resp.status_code == 401 and _status(resp)["reason"] == "Unauthorized", refused
        assert admin.delete(f"{secrets}/bootstrap-token-{live}").status_code == 200
        assert admin.delete(f"{secrets}/bootstrap-token-{old}").status_code == 200
        supervise.wait_for(lambda: review(f"{live}.0123456789abcdef").status_code == 401, 10, "token revoked")


def test_view_in_a_reads_a_only_and_changes_nothing(rbac_apiserver: Apiserver, namespaces: tuple[str, str]) -> None:
    a, b = namespaces
    with rbac_apiserver.http(ALICE) as alice:
        listed = alice.get(f"/api/v1/namespaces/{a}/pods")
        assert listed.status_code == 200 and [p["metadata"]["name"] for p in listed.json()["items"]] == ["web"]
        other = alice.get(f"/api/v1/namespaces/{b}/pods")
        assert other.status_code == 403
        assert _status(other)["message"] == (f'pods is forbidden: User "alice" cannot list resource "pods" in API '
                                             f'group "" in the namespace "{b}"')
        delete = alice.delete(f"/api/v1/namespaces/{a}/pods/web")
        assert delete.status_code == 403
        assert _status(delete)["message"] == (f'pods "web" is forbidden: User "alice" cannot delete resource "pods" '
                                              f'in API group "" in the namespace "{a}"')
        assert _status(delete)["details"] == {"name": "web", "kind": "pods"}
        secrets = alice.get(f"/api/v1/namespaces/{a}/secrets")
        assert secrets.status_code == 403  # view never shows Secrets
    with rbac_apiserver.http() as admin:
        assert admin.get(f"/api/v1/namespaces/{a}/pods/web").status_code == 200  # still there


def _kubectl(server: Apiserver, identity: certs.Identity, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    config = server.kubeconfig(identity, embed=True)
    return subprocess.run([kubectl_binary(), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "KUBECONFIG": str(config)})


@pytest.mark.parametrize(("args", "answer"), [
    (("list", "pods", "-n", "{a}"), "yes"),
    (("get", "pods/web", "-n", "{a}"), "yes"),
    (("list", "pods", "-n", "{b}"), "no"),
    (("delete", "pods", "-n", "{a}"), "no"),
    (("create", "deployments.apps", "-n", "{a}"), "no"),
    (("list", "secrets", "-n", "{a}"), "no"),
    (("get", "pods", "--subresource=log", "-n", "{a}"), "yes"),
])
def test_kubectl_auth_can_i_agrees(rbac_apiserver: Apiserver, namespaces: tuple[str, str], tmp_path: Path,
                                   args: tuple[str, ...], answer: str) -> None:
    a, b = namespaces
    done = _kubectl(rbac_apiserver, ALICE, tmp_path, "auth", "can-i", *(x.format(a=a, b=b) for x in args))
    assert done.stdout.strip() == answer, done.stderr
    assert done.returncode == (0 if answer == "yes" else 1)


def test_kubectl_auth_can_i_list_and_whoami(rbac_apiserver: Apiserver, namespaces: tuple[str, str],
                                            tmp_path: Path) -> None:
    a, _ = namespaces
    listed = _kubectl(rbac_apiserver, ALICE, tmp_path, "auth", "can-i", "--list", "-n", a)
    assert listed.returncode == 0, listed.stderr
    pods_line = next(line for line in listed.stdout.splitlines() if line.startswith("pods "))
    assert "[get list watch]" in pods_line
    assert not any(line.startswith("secrets ") for line in listed.stdout.splitlines())
    who = _kubectl(rbac_apiserver, ALICE, tmp_path, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == "alice" and info["groups"] == ["developers", "system:authenticated"]


def test_subject_access_review_and_token_review(rbac_apiserver: Apiserver, namespaces: tuple[str, str]) -> None:
    a, b = namespaces
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "alice", "resourceAttributes": {"namespace": a, "verb": "list", "resource": "pods"}}}
    with rbac_apiserver.http() as admin:
        allowed = _post(admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        assert allowed.status_code == 201 and allowed.json()["status"]["allowed"] is True
        assert "RBAC: allowed by RoleBinding" in allowed.json()["status"]["reason"]
        review["spec"]["resourceAttributes"]["namespace"] = b
        assert _post(admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                     review).json()["status"]["allowed"] is False
        incomplete = _post(admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                           {"spec": {"resourceAttributes": {"verb": "get"}}})
        assert incomplete.status_code == 422
        tokens = _post(admin, "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": TOKEN}})
        assert tokens.json()["status"]["user"]["username"] == "bob"
        unknown = _post(admin, "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "nope"}})
        assert "authenticated" not in unknown.json()["status"]
    with rbac_apiserver.http(ALICE) as alice:  # asking about others is not for everyone
        assert _post(alice, "/apis/authorization.k8s.io/v1/subjectaccessreviews", review).status_code == 403


def test_a_kubelet_is_confined_to_its_own_node(rbac_apiserver: Apiserver, run_id: str) -> None:
    ns = f"authz-nodes-{run_id}"
    with rbac_apiserver.http() as admin:
        assert _post(admin, "/api/v1/namespaces", {"metadata": {"name": ns}}).status_code == 201
        for node in ("authz-n1", "authz-n2"):
            created = _post(admin, "/api/v1/nodes", {"metadata": {"name": node}})
            assert created.status_code in (201, 409)
        for node, secret in (("authz-n1", "s1"), ("authz-n2", "s2")):
            assert _post(admin, f"/api/v1/namespaces/{ns}/secrets",
                         {"metadata": {"name": secret}, "stringData": {"k": "v"}}).status_code == 201
            pod = {"metadata": {"name": f"on-{node}"}, "spec": {"nodeName": node, "containers": [
                {"name": "c", "image": "busybox:latest", "env": [
                    {"name": "K", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}]}]}}
            assert _post(admin, f"/api/v1/namespaces/{ns}/pods", pod).status_code == 201
    with rbac_apiserver.http(NODE_A) as kubelet:
        supervise.wait_for(lambda: kubelet.get(f"/api/v1/namespaces/{ns}/secrets/s1").status_code == 200, 10,
                   "the node graph to see the pod on authz-n1")
        other = kubelet.get(f"/api/v1/namespaces/{ns}/secrets/s2")
        assert other.status_code == 403
        assert "no relationship found between node 'authz-n1' and this object" in _status(other)["message"]
        assert kubelet.get(f"/api/v1/namespaces/{ns}/secrets").status_code == 403  # no listing Secrets
        patch = {"metadata": {"labels": {"stolen": "yes"}}}
        headers = {"Content-Type": "application/merge-patch+json"}
        foreign = kubelet.patch("/api/v1/nodes/authz-n2", json=patch, headers=headers)
        assert foreign.status_code == 403
        assert 'node "authz-n1" is not allowed to modify node "authz-n2"' in _status(foreign)["message"]
        own = kubelet.patch("/api/v1/nodes/authz-n1", json=patch, headers=headers)
        assert own.status_code == 200
        status = kubelet.patch(f"/api/v1/namespaces/{ns}/pods/on-authz-n2/status",
                               json={"status": {"message": "x"}}, headers=headers)
        assert status.status_code == 403
        assert kubelet.patch(f"/api/v1/namespaces/{ns}/pods/on-authz-n1/status", json={"status": {"message": "x"}},
                             headers=headers).status_code == 200
    with rbac_apiserver.http() as admin:
        assert "stolen" not in (admin.get("/api/v1/nodes/authz-n2").json()["metadata"].get("labels") or {})
        for node in ("authz-n1", "authz-n2"):
            admin.delete(f"/api/v1/nodes/{node}")


def _request_token(client: httpx.Client, ns: str, account: str, **spec: Any) -> httpx.Response:
    return _post(client, f"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token",
                 {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


def test_service_account_tokens_are_bound_to_what_they_were_made_for(rbac_apiserver: Apiserver,
                                                                      run_id: str) -> None:
    ns = f"authz-sa-{run_id}"
    with rbac_apiserver.http() as admin:
        assert _post(admin, "/api/v1/namespaces", {"metadata": {"name": ns}}).status_code == 201
        assert _post(admin, f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "reader"}}
                     ).status_code == 201
        role = {"metadata": {"name": "pod-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
        assert _post(admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", role).status_code == 201
        binding = {"metadata": {"name": "reader"}, "subjects": [{"kind": "ServiceAccount", "name": "reader",
                                                                 "namespace": ns}],
                   "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"}}
        assert _post(admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                     binding).status_code == 201
        pod = {"metadata": {"name": "holder"}, "spec": {"serviceAccountName": "reader",
                                                        "containers": [{"name": "c", "image": "busybox:latest"}]}}
        created = _post(admin, f"/api/v1/namespaces/{ns}/pods", pod).json()
        volumes = created["spec"]["volumes"]
        assert any(v["name"].startswith("kube-api-access-") for v in volumes)  # mounted as Kubernetes does
        assert created["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == \
            "/var/run/secrets/kubernetes.io/serviceaccount"
        short = _request_token(admin, ns, "reader", expirationSeconds=60)
        assert short.status_code == 422 and "less than 10 minutes" in short.text
        answer = _request_token(admin, ns, "reader", boundObjectRef={
            "kind": "Pod", "apiVersion": "v1", "name": "holder", "uid": created["metadata"]["uid"]})
        assert answer.status_code == 201, answer.text
        token = answer.json()["status"]["token"]
        unbound = _request_token(admin, ns, "reader").json()["status"]["token"]
    as_pod = {"Authorization": f"Bearer {token}"}
    with rbac_apiserver.http(None, headers=as_pod) as account:
        assert account.get(f"/api/v1/namespaces/{ns}/pods").status_code == 200
        secrets = account.get(f"/api/v1/namespaces/{ns}/secrets")
        assert secrets.status_code == 403
        assert f'User "system:serviceaccount:{ns}:reader" cannot list resource "secrets"' in _status(secrets)["message"]
        who = _post(account, "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}).json()["status"]["userInfo"]
        assert who["extra"]["authentication.kubernetes.io/pod-name"] == ["holder"]
        assert f"system:serviceaccounts:{ns}" in who["groups"]
    with rbac_apiserver.http() as admin:
        assert admin.delete(f"/api/v1/namespaces/{ns}/pods/holder",
                            params={"gracePeriodSeconds": "0"}).status_code == 200
    with rbac_apiserver.http(None, headers=as_pod) as account:
        supervise.wait_for(lambda: account.get(f"/api/v1/namespaces/{ns}/pods").status_code == 401, 10,
                           "the deleted pod's token to be refused")
    with rbac_apiserver.http(None, headers={"Authorization": f"Bearer {unbound}"}) as account:
        assert account.get(f"/api/v1/namespaces/{ns}/pods").status_code == 200  # bound to the account only
        with rbac_apiserver.http() as admin:
            assert admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/reader").status_code == 200
        supervise.wait_for(lambda: account.get(f"/api/v1/namespaces/{ns}/pods").status_code == 401, 10,
                           "the deleted account's token to be refused")


def test_impersonation_needs_the_impersonate_verb(rbac_apiserver: Apiserver, namespaces: tuple[str, str],
                                                  tmp_path: Path) -> None:
    a, _ = namespaces
    as_alice = {"Impersonate-User": "alice", "Impersonate-Group": "developers"}
    with rbac_apiserver.http() as admin:
        listed = admin.get(f"/api/v1/namespaces/{a}/secrets", headers=as_alice)
        assert listed.status_code == 403  # the admin, acting as alice, has alice's rights only
        assert 'User "alice" cannot list resource "secrets"' in _status(listed)["message"]
        assert admin.get(f"/api/v1/namespaces/{a}/pods", headers=as_alice).status_code == 200
        who = _post(admin, "/apis/authentication.k8s.io/v1/selfsubjectreviews", {})
        assert who.json()["status"]["userInfo"]["username"] == "kubernetes-admin"
        group_only = admin.get("/api/v1/pods", headers={"Impersonate-Group": "developers"})
        assert group_only.status_code == 400
    with rbac_apiserver.http(ALICE) as alice:
        refused = alice.get(f"/api/v1/namespaces/{a}/pods", headers={"Impersonate-User": "kubernetes-admin"})
        assert refused.status_code == 403
        assert _status(refused)["message"] == ('users "kubernetes-admin" is forbidden: User "alice" cannot impersonate '
                                               'resource "users" in API group "" at the cluster scope')
    whoami = _kubectl(rbac_apiserver, certs.ADMIN, tmp_path, "auth", "whoami", "--as", "alice", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "alice"
    can = _kubectl(rbac_apiserver, certs.ADMIN, tmp_path, "auth", "can-i", "list", "secrets", "-n", a, "--as", "alice")
    assert can.stdout.strip() == "no"


def test_nobody_grants_what_they_do_not_hold(rbac_apiserver: Apiserver, namespaces: tuple[str, str]) -> None:
    a, _ = namespaces
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{a}"
    with rbac_apiserver.http() as admin:
        writer = {"metadata": {"name": "rbac-writer"}, "rules": [{"apiGroups": ["rbac.authorization.k8s.io"],
                                                                   "resources": ["roles", "rolebindings"],
                                                                   "verbs": ["create"]}]}
        assert _post(admin, f"{rbac}/roles", writer).status_code == 201
        bind = {"metadata": {"name": "alice-rbac-writer"}, "subjects": [
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": "rbac-writer", "apiGroup": "rbac.authorization.k8s.io"}}
        assert _post(admin, f"{rbac}/rolebindings", bind).status_code == 201
    with rbac_apiserver.http(ALICE) as alice:
        held = {"metadata": {"name": "pod-peek"}, "rules": [{"apiGroups": [""], "resources": ["pods"],
                                                              "verbs": ["get", "list"]}]}
        supervise.wait_for(lambda: _post(alice, f"{rbac}/roles", held).status_code in (201, 409), 10,
                           "alice's rbac-writer binding")
        more = {"metadata": {"name": "secret-peek"}, "rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                                 "verbs": ["get"]}]}
        refused = _post(alice, f"{rbac}/roles", more)
        assert refused.status_code == 403
        message = _status(refused)["message"]
        assert message.startswith('roles.rbac.authorization.k8s.io "secret-peek" is forbidden: user "alice"')
        assert "is attempting to grant RBAC permissions not currently held" in message
        admin_binding = {"metadata": {"name": "alice-admin"}, "subjects": [
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin", "apiGroup": "rbac.authorization.k8s.io"}}
        assert _post(alice, f"{rbac}/rolebindings", admin_binding).status_code == 403
    with rbac_apiserver.http() as admin:
        assert admin.get(f"{rbac}/roles/secret-peek").status_code == 404
        assert admin.get(f"{rbac}/rolebindings/alice-admin").status_code == 404


def test_an_rbac_only_apiserver_leaves_kubelets_no_cluster_wide_grant(pki: TestPKI, workdir: Path,
                                                                      run_id: str) -> None:
    logs = workdir / "logs"
    etcd, etcd_daemon = supervise.start_etcd(f"etcd-rbac-only-{run_id}", workdir / f"etcd-rbac-only-{run_id}", logs)
    try:
        rbac_only = start_apiserver(pki, etcd, logs, f"apiserver-rbac-only-{run_id}", ["--authorization-mode", "RBAC"])
        try:
            with rbac_only.http() as admin:
                supervise.wait_for(lambda: admin.get(
                    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:node").status_code == 200, 30,
                    "the default policy written")
        finally:
            rbac_only.stop()
        server = start_apiserver(pki, etcd, logs, f"apiserver-node-rbac-{run_id}")  # the suite's Node,RBAC
        try:
            with server.http() as admin:
                assert _post(admin, "/api/v1/namespaces/default/secrets",
                             {"metadata": {"name": "nobodys"}, "stringData": {"k": "v"}}).status_code == 201
            with server.http(certs.node_identity(f"lonely-{run_id}")) as kubelet:
                assert kubelet.get("/api/v1/namespaces/default/secrets/nobodys").status_code == 403
        finally:
            server.stop()
    finally:
        supervise.stop(etcd_daemon)
