"""Certificates from the API, as kubeadm's TLS bootstrapping uses them, against a real apiserver over real TLS
with Node,RBAC and a controller-manager holding the cluster CA: a bootstrap token asks for a node's client
certificate and gets it approved and signed without anyone; other requests wait for `kubectl certificate
approve` (or deny); who may approve and what may be asked for are enforced with Kubernetes' words."""

from __future__ import annotations

import asyncio
import base64
import datetime
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli import bootstraptokens, certs, supervise
from kube import csr as kcsr
from kube import pki as kpki
from tests.e2e.test_kubectl import kubectl_binary
from tests.support.secured import Apiserver, TestPKI, start_apiserver

pytestmark = pytest.mark.e2e

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CRBS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
NODE_GROUP = bootstraptokens.NODE_TOKEN_GROUP
LABELS = {"kubelite-test": "certificates"}


@pytest.fixture(scope="module")
def cluster(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    server = start_apiserver(pki, etcd_url, workdir / "logs", "apiserver-certificates",
                             ["--enable-bootstrap-token-auth"])
    signing = ["--cluster-signing-cert-file", str(pki.cluster.ca_file),
               "--cluster-signing-key-file", str(pki.cluster.pki_dir / "ca.key")]
    controllers = supervise.start("controllers-certificates", server.daemon_argv(
        "controllers", "--controllers", "csrapproving,csrsigning,csrcleaner", *signing), workdir / "logs")
    try:
        yield server
    finally:
        supervise.stop(controllers)
        server.stop()


@pytest.fixture(scope="module")
def token(cluster: Apiserver) -> Iterator[str]:
    """A bootstrap token as `klite token create` makes one, with what joining needs (kubeadm's bindings: its group
    may ask for node client certificates and have them approved, nodes their renewals; cluster-info)."""
    async def make() -> str:
        async with cluster.api() as admin:
            await bootstraptokens.ensure_join_prerequisites(admin, cluster.url, Path(cluster.pki.ca_file).read_bytes())
            return await bootstraptokens.create_token(admin, datetime.timedelta(hours=1), "kubelite test")

    value = asyncio.run(make())
    supervise.wait_for(lambda: _as_token(cluster, value).get("/api").status_code == 200, 10, "token known")
    yield value
    with cluster.http() as admin:
        admin.delete(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{value.split('.')[0]}")
        for binding in bootstraptokens.JOIN_BINDINGS:
            admin.delete(f"{CRBS}/{binding['metadata']['name']}")


def _as_token(cluster: Apiserver, token: str) -> httpx.Client:
    return cluster.http(None, headers={"Authorization": f"Bearer {token}"})


def _csr(name: str, key: bytes, common_name: str, orgs: list[str], signer: str,
         usages: tuple[str, ...] = ("digital signature", "client auth")) -> dict[str, Any]:
    request = kpki.certificate_request(key, common_name, orgs)
    return {"metadata": {"name": name, "labels": LABELS},
            "spec": {"request": base64.b64encode(request).decode(), "signerName": signer, "usages": list(usages),
                     "username": "forged", "groups": ["system:masters"]}}


def _issued(admin: httpx.Client, name: str, timeout: float = 20) -> dict[str, Any]:
    def done() -> bool:
        return bool(admin.get(f"{CSRS}/{name}").json().get("status", {}).get("certificate"))

    supervise.wait_for(done, timeout, f"csr {name} issued")
    return admin.get(f"{CSRS}/{name}").json()


def _whoami(cluster: Apiserver, tmp_path: Path, csr: dict[str, Any], key: bytes) -> dict[str, Any]:
    cert_file, key_file = tmp_path / f"{csr['metadata']['name']}.crt", tmp_path / f"{csr['metadata']['name']}.key"
    cert_file.write_bytes(base64.b64decode(csr["status"]["certificate"]))
    kpki.write_private(key_file, key)
    from kube.client.rest import tls_context

    with httpx.Client(base_url=cluster.url, verify=tls_context(cluster.pki.ca_file, (str(cert_file), str(key_file))),
                      timeout=10) as client:
        review = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={})
        assert review.status_code == 201, review.text
        info: dict[str, Any] = review.json()["status"]["userInfo"]
        return info


def test_a_bootstrap_token_gets_a_node_certificate_approved_and_signed_by_the_controllers(
        cluster: Apiserver, token: str, run_id: str, tmp_path: Path) -> None:
    key, name = kpki.new_private_key_pem(), f"node-csr-{run_id}"
    with _as_token(cluster, token) as node:
        created = node.post(CSRS, json=_csr(name, key, f"system:node:csr-{run_id}", ["system:nodes"],
                                            "kubernetes.io/kube-apiserver-client-kubelet"))
        assert created.status_code == 201, created.text
        spec = created.json()["spec"]
        # who asked is the apiserver's to say, never the body's
        assert spec["username"] == f"system:bootstrap:{token.split('.')[0]}"
        assert spec["groups"] == ["system:bootstrappers", NODE_GROUP, "system:authenticated"]
        assert created.json()["status"] == {}
    with cluster.http() as admin:
        csr = _issued(admin, name)
    approved = next(c for c in csr["status"]["conditions"] if c["type"] == "Approved")
    assert (approved["reason"], approved["message"]) == (
        "AutoApproved", "Auto approving kubelet client certificate after SubjectAccessReview.")
    assert approved["lastUpdateTime"] and approved["lastTransitionTime"]
    assert _whoami(cluster, tmp_path, csr, key) == {
        "username": f"system:node:csr-{run_id}", "groups": ["system:nodes", "system:authenticated"]}


def test_requests_the_signers_refuse_fail_and_system_masters_is_never_asked_for(
        cluster: Apiserver, token: str, run_id: str) -> None:
    with _as_token(cluster, token) as node:
        wrong_org = f"node-csr-bad-{run_id}"
        assert node.post(CSRS, json=_csr(wrong_org, kpki.new_private_key_pem(), f"system:node:x-{run_id}",
                                         ["developers"], "kubernetes.io/kube-apiserver-client-kubelet")
                         ).status_code == 201
        masters = node.post(CSRS, json=_csr(f"masters-{run_id}", kpki.new_private_key_pem(), "root",
                                            ["system:masters"], "kubernetes.io/kube-apiserver-client"))
        assert masters.status_code == 403
        assert masters.json()["message"] == (
            f'certificatesigningrequests.certificates.k8s.io "masters-{run_id}" is forbidden: use of '
            "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed")
    with cluster.http() as admin:
        assert admin.get(f"{CSRS}/masters-{run_id}").status_code == 404
        # not a node's request: nobody approves it automatically; approved by hand, the signer refuses it
        approve = admin.get(f"{CSRS}/{wrong_org}").json()
        assert "conditions" not in approve["status"]
        approve["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "Test"}]
        assert admin.put(f"{CSRS}/{wrong_org}/approval", json=approve).status_code == 200
        supervise.wait_for(lambda: any(c["type"] == "Failed" for c in admin.get(f"{CSRS}/{wrong_org}").json()[
            "status"].get("conditions", [])), 20, "signer refuses")
        failed = admin.get(f"{CSRS}/{wrong_org}").json()
        assert "certificate" not in failed["status"]
        condition = next(c for c in failed["status"]["conditions"] if c["type"] == "Failed")
        assert condition["reason"] == "SignerValidationFailure"
        assert condition["message"] == "subject organization is not system:nodes"


def _kubectl(cluster: Apiserver, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = cluster.kubeconfig(certs.ADMIN, embed=True)
    return subprocess.run([kubectl_binary(), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "KUBECONFIG": str(config)})


def test_kubectl_certificate_approve_and_deny(cluster: Apiserver, run_id: str, tmp_path: Path) -> None:
    key = kpki.new_private_key_pem()
    carol, dave = f"carol-{run_id}", f"dave-{run_id}"
    with cluster.http() as admin:
        for name in (carol, dave):
            body = _csr(name, key if name == carol else kpki.new_private_key_pem(), name, ["developers"],
                        "kubernetes.io/kube-apiserver-client")
            body["spec"]["expirationSeconds"] = 3600
            assert admin.post(CSRS, json=body).status_code == 201
    listed = _kubectl(cluster, tmp_path, "get", "csr", carol)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert row.split()[2:] == ["kubernetes.io/kube-apiserver-client", "kubernetes-admin", "60m", "Pending"]
    approve = _kubectl(cluster, tmp_path, "certificate", "approve", carol)
    assert approve.returncode == 0 and approve.stdout.strip() == \
        f"certificatesigningrequest.certificates.k8s.io/{carol} approved", approve.stderr
    deny = _kubectl(cluster, tmp_path, "certificate", "deny", dave)
    assert deny.returncode == 0, deny.stderr
    with cluster.http() as admin:
        csr = _issued(admin, carol)
        assert _kubectl(cluster, tmp_path, "get", "csr", carol).stdout.split()[-1] == "Approved,Issued"
        issued = kpki.x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
        lifetime = issued.not_valid_after_utc - issued.not_valid_before_utc
        assert datetime.timedelta(minutes=60) <= lifetime <= datetime.timedelta(minutes=66)  # asked + backdate
        assert _whoami(cluster, tmp_path, csr, key)["username"] == carol
        denied = admin.get(f"{CSRS}/{dave}").json()
        assert [c["type"] for c in denied["status"]["conditions"]] == ["Denied"]
        assert "certificate" not in denied["status"]
        for name in (carol, dave):
            admin.delete(f"{CSRS}/{name}")


def test_each_path_changes_only_its_part(cluster: Apiserver, run_id: str) -> None:
    name = f"paths-{run_id}"
    with cluster.http() as admin:
        assert admin.post(CSRS, json=_csr(name, kpki.new_private_key_pem(), name, [],
                                          "example.com/not-signed-here")).status_code == 201
        csr = admin.get(f"{CSRS}/{name}").json()
        via_status = {**csr, "status": {"conditions": [{"type": "Approved", "status": "True"}]}}
        resp = admin.put(f"{CSRS}/{name}/status", json=via_status)
        assert resp.status_code == 200 and "conditions" not in resp.json()["status"]  # approval kept as it was
        approved = {**csr, "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "R"}]}}
        assert admin.put(f"{CSRS}/{name}/approval", json=approved).status_code == 200
        current = admin.get(f"{CSRS}/{name}").json()
        cert = kpki.CertificateAuthority.create("x").cert_pem
        current["status"]["certificate"] = base64.b64encode(cert).decode()
        via_approval = admin.put(f"{CSRS}/{name}/approval", json=current)  # only conditions are taken
        assert via_approval.status_code == 200 and "certificate" not in via_approval.json()["status"]
        current["status"]["conditions"] = []
        removed = admin.put(f"{CSRS}/{name}/approval", json=current)
        assert removed.status_code == 422 and 'updates may not remove a condition of type \\"Approved\\"' in \
            removed.text
        changed_spec = admin.get(f"{CSRS}/{name}").json()
        changed_spec["spec"]["signerName"] = "example.com/other"
        assert admin.put(f"{CSRS}/{name}", json=changed_spec).json()["spec"]["signerName"] == \
            "example.com/not-signed-here"
        admin.delete(f"{CSRS}/{name}")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"request": base64.b64encode(b"not a pem").decode()}, "spec.request", "PEM block type must be CERTIFICATE "
                                                                           "REQUEST"),
    ({"usages": []}, "spec.usages", "Required value"),
    ({"usages": ["client auth", "client auth"]}, "spec.usages[1]", 'Duplicate value: "client auth"'),
    ({"signerName": "kubernetes.io/legacy-unknown"}, "spec.signerName", "the legacy signerName is not allowed"),
    ({"signerName": "nodomain"}, "spec.signerName", "must be a fully qualified domain and path"),
    ({"expirationSeconds": 60}, "spec.expirationSeconds", "may not specify a duration less than 600 seconds"),
])
def test_bad_requests_are_refused_with_their_field(cluster: Apiserver, run_id: str, change: dict[str, Any],
                                                   field: str, message: str) -> None:
    body = _csr(f"bad-{run_id}", kpki.new_private_key_pem(), "x", [], "example.com/x")
    body["spec"].update(change)
    with cluster.http() as admin:
        resp = admin.post(CSRS, json=body)
        assert resp.status_code == 422, resp.text
        causes = resp.json()["details"]["causes"]
        assert any(c["field"] == field and message in c["message"] for c in causes), causes
        assert admin.get(f"{CSRS}/bad-{run_id}").status_code == 404
    with cluster.http() as admin:
        garbled = _csr(f"bad64-{run_id}", kpki.new_private_key_pem(), "x", [], "example.com/x")
        garbled["spec"]["request"] = "%%%%"
        resp = admin.post(CSRS, json=garbled)
        assert resp.status_code == 400 and "illegal base64 data at input byte 0" in resp.json()["message"]


def _bootstrap_kubeconfig(cluster: Apiserver, token: str, path: Path) -> Path:
    from kube.client import kubeconfig

    return kubeconfig.merge_context("tls-bootstrap", cluster.url, path=path, ca_file=cluster.pki.ca_file, token=token)


async def test_a_kubelet_bootstraps_its_own_certificate_and_rotates_it(cluster: Apiserver, token: str, run_id: str,
                                                                      workdir: Path, tmp_path: Path) -> None:
    """TLS bootstrapping as kubeadm join does it: the kubelet starts with a token only, and registers its Node
    as system:node:NAME with the certificate it got; rotation then replaces it, asked for as the node."""
    from kube.client import ApiClient, kubeconfig
    from kubelet.certificate import CertificateManager, Credentials

    node, target = f"boot-{run_id}", tmp_path / "kubelet.conf"
    argv = [*supervise.python_module("kubelet"), "--bootstrap-kubeconfig",
            str(_bootstrap_kubeconfig(cluster, token, tmp_path / "bootstrap.conf")), "--kubeconfig", str(target),
            "--cert-dir", str(tmp_path / "pki"), "--node-name", node, "--node-ip", "127.0.0.1", "--port", "0",
            "--root-dir", str(tmp_path / "root"), "--heartbeat-interval", "1"]
    kubelet = supervise.start(f"kubelet-{node}", argv, workdir / "logs")
    try:
        with cluster.http() as admin:
            supervise.wait_for(lambda: admin.get(f"/api/v1/nodes/{node}").status_code == 200, 40,
                               f"node {node} registered", kubelet)
            managers = {m["manager"] for m in admin.get(f"/api/v1/nodes/{node}").json()["metadata"]["managedFields"]}
            assert managers == {"kubelet-lite"}
            asked = [c for c in admin.get(CSRS).json()["items"]
                     if c["spec"]["username"] == f"system:bootstrap:{token.split('.')[0]}"
                     and c["metadata"]["name"].startswith("csr-")]
            assert asked and all(kcsr.state(c) == "Approved,Issued" for c in asked)
        pem = tmp_path / "pki" / "kubelet-client-current.pem"
        first = kpki.x509.load_pem_x509_certificate(pem.read_bytes())
        assert kpki.identity_of(first) == (f"system:node:{node}", ("system:nodes",))
        creds = kubeconfig.load(target)
        assert creds.cert == (str(pem), str(pem)) and creds.token is None
        supervise.stop(kubelet)
        # rotation, asked for with the node's own certificate (auto-approved as selfnodeclient)
        async with ApiClient(creds.server, verify=creds.verify, cert=creds.cert) as client:
            await CertificateManager(client, Credentials(target, pem), node, timeout=30).rotate()
            second = kpki.x509.load_pem_x509_certificate(pem.read_bytes())
            assert second.serial_number != first.serial_number
            assert kpki.identity_of(second) == kpki.identity_of(first)
            review = await client.request_object("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                                 body={})
            assert review["status"]["userInfo"]["username"] == f"system:node:{node}"
        with cluster.http() as admin:
            renewal = [c for c in admin.get(CSRS).json()["items"] if c["spec"]["username"] == f"system:node:{node}"]
            assert [next(x["message"] for x in c["status"]["conditions"] if x["type"] == "Approved")
                    for c in renewal] == ["Auto approving self kubelet client certificate after SubjectAccessReview."]
    finally:
        supervise.stop(kubelet)
        with cluster.http() as admin:
            admin.delete(f"/api/v1/nodes/{node}")
