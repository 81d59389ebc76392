"""`klite up` / `klite status` / `klite down` for real: a whole local cluster on private ports and a private home
under its supervisor, a workload on it, `up` again changing nothing, `status` listing every daemon with its health,
and `down` leaving no process and no container behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import httpx
import pytest

from cli import supervise

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def klite(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _a_new_user_gets_only_what_rbac_grants(home: Path, env: dict[str, str], run_id: str) -> None:
    """`klite kubeconfig user`: a certificate from the cluster CA; Forbidden until a RoleBinding grants view."""
    from tests.e2e.test_kubectl import kubectl_binary

    user_config = home / f"dana-{run_id}.conf"
    made = klite("kubeconfig", "user", "dana", "--group", "readers", "--out", str(user_config), "--home", str(home),
                 env=env)
    assert made.returncode == 0, made.stderr

    def kubectl(config: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
        chosen = {**env, "KUBECONFIG": str(config)} if config else env
        return subprocess.run([kubectl_binary(), *args], env=chosen, capture_output=True, text=True, timeout=60)

    refused = kubectl(user_config, "get", "pods")
    assert refused.returncode != 0 and 'User "dana" cannot list resource "pods"' in refused.stderr
    granted = kubectl(None, "create", "rolebinding", f"dana-{run_id}", "--clusterrole=view", "--group=readers")
    assert granted.returncode == 0, granted.stderr
    supervise.wait_for(lambda: "demo" in kubectl(user_config, "get", "pods").stdout, 30, "dana to see the pods")
    assert kubectl(user_config, "auth", "can-i", "delete", "pods").stdout.strip() == "no"


def _a_second_node_joins_with_a_token(tmp_path: Path, env: dict[str, str], run_id: str,
                                      docker_client: docker.DockerClient) -> None:
    """`klite token create --print-join-command`, then that command: discovery pinned to the CA's hash, TLS
    bootstrapping through a CSR the controllers approve and sign, a Ready node that runs a pod whose logs the
    apiserver reads from the new kubelet (HTTPS, its webhook authorization), and `klite down` for the node."""
    from tests.e2e.test_kubectl import kubectl_binary

    made = klite("token", "create", "--print-join-command", "--ttl", "10m", "--description", "e2e", env=env)
    assert made.returncode == 0, made.stderr
    command = made.stdout.split()
    assert command[:2] == ["klite", "join"] and "--discovery-token-ca-cert-hash" in command
    token_id = command[command.index("--token") + 1].split(".")[0]
    assert token_id in klite("token", "list", env=env).stdout
    node_home, node = tmp_path / "joined", f"joined-{run_id}"
    forged = [*command[1:]]
    forged[forged.index("--discovery-token-ca-cert-hash") + 1] = "sha256:" + "0" * 64
    refused = klite(*forged, "--home", str(node_home), "--node-name", node, env=env)
    assert refused.returncode == 1 and "refusing to trust this server" in refused.stderr
    assert not (node_home / "cluster.json").exists()
    joined = klite(*command[1:], "--home", str(node_home), "--node-name", node, env=env, timeout=240)
    try:
        assert joined.returncode == 0, joined.stdout + joined.stderr
        assert f"node {node} joined" in joined.stdout

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([kubectl_binary(), *args], env=env, capture_output=True, text=True, timeout=60)

        csrs = kubectl("get", "csr", "-o", "jsonpath={range .items[*]}{.spec.username} {.status.conditions[0].type}"
                                           "{'\\n'}{end}").stdout.splitlines()
        assert f"system:bootstrap:{token_id} Approved" in csrs
        pod = f"on-joined-{run_id}"
        ran = kubectl("run", pod, "--image=busybox:latest", "--restart=Never",
                      f"--overrides={json.dumps({'spec': {'nodeName': node}})}", "--", "sh", "-c",
                      "echo hello from the joined node; sleep 60")
        assert ran.returncode == 0, ran.stderr
        supervise.wait_for(lambda: "hello from the joined node" in kubectl("logs", pod).stdout, 60,
                           "the pod's log through the joined node's kubelet")
        kubectl("delete", "pod", pod, "--wait=false")
    finally:
        down = klite("down", "--home", str(node_home), env=env)
    assert down.returncode == 0, down.stderr
    assert docker_client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"}) == []
    assert klite("token", "delete", token_id, env=env).returncode == 0
    assert token_id not in klite("token", "list", env=env).stdout


def test_up_runs_a_workload_and_down_leaves_nothing(tmp_path: Path, run_id: str,
                                                    docker_client: docker.DockerClient) -> None:
    home, config = tmp_path / "home", tmp_path / "kubeconfig"
    node = f"up-{run_id}"
    port, etcd_port = supervise.free_port(), supervise.free_port()
    env = {**os.environ, "KUBECONFIG": str(config)}
    common = ["--home", str(home)]
    up = klite("up", *common, "--port", str(port), "--etcd-port", str(etcd_port), "--node-name", node, env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert f"node {node} Ready" in up.stdout
        state = json.loads((home / "cluster.json").read_text())
        supervised = json.loads((home / "run" / "supervisor.json").read_text())["daemons"]
        names = [d["name"] for d in supervised]
        assert names == ["etcd", "apiserver", "scheduler", "controller-manager", "kubelet", "proxy", "dns"]
        assert all(d["pid"] and d["state"] == "running" for d in supervised)
        assert "current-context: kubelite" in config.read_text()

        again = klite("up", *common, "--port", str(port), env=env)
        assert again.returncode == 0 and "already up" in again.stdout
        assert json.loads((home / "cluster.json").read_text())["supervisor"] == state["supervisor"]  # nothing new
        pids = {d["name"]: d["pid"] for d in json.loads((home / "run" / "supervisor.json").read_text())["daemons"]}
        assert pids == {d["name"]: d["pid"] for d in supervised}

        def status_rows() -> dict[str, list[str]]:
            shown = klite("status", *common, env=env)
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert "\x1b[" not in shown.stdout  # colour only on a terminal
            return {line.split()[0]: line.split() for line in shown.stdout.splitlines()[1:] if line.strip()}

        supervise.wait_for(lambda: "leader" in " ".join(status_rows()["scheduler"]), 30, "the scheduler to lead")
        rows = status_rows()
        assert set(rows) == {"supervisor", *names}
        assert rows["supervisor"][1] == str(state["supervisor"]["pid"])
        assert rows["apiserver"][1] == str(pids["apiserver"]) and rows["apiserver"][-1] == "ready"
        assert rows["controller-manager"][-2:] == ["ready,", "leader"]
        assert rows["etcd"][3] == "0"  # restarts

        applied = klite("apply", "-f", str(REPO / "deploy" / "demo.yaml"), env=env)
        assert applied.returncode == 0, applied.stderr
        waited = subprocess.run([sys.executable, str(REPO / "deploy" / "wait_running.py"), "default", "demo", "60"],
                                env=env, capture_output=True, text=True, timeout=90)
        assert waited.returncode == 0, waited.stderr
        pod_ip = waited.stdout.split(" at ")[-1].strip()
        assert httpx.get(f"http://{pod_ip}/", timeout=5).status_code in (200, 403, 404)  # httpd answers
        listed = klite("get", "pods", "-o", "wide", env=env)
        assert "demo" in listed.stdout and "Running" in listed.stdout and node in listed.stdout
        _a_new_user_gets_only_what_rbac_grants(home, env, run_id)
        _a_second_node_joins_with_a_token(tmp_path, env, run_id, docker_client)
    finally:
        down = klite("down", *common, env=env)
    assert down.returncode == 0, down.stderr
    boss = state["supervisor"]
    recorded = [{**boss, "name": "supervisor"}, *supervised]
    for d in recorded:
        daemon = supervise.Daemon(d["name"], d["pid"], Path(d["log"]), d["marker"])
        assert not supervise.running(daemon), f"{daemon.name} still running"  # (a zombie counts as stopped)
    leftovers = docker_client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"})
    assert leftovers == []
    assert not (home / "cluster.json").exists()

