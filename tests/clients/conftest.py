"""A whole kubelite cluster for real clients' own test suites: etcd, apiserver, scheduler, controller-manager,
one kubelet, its proxy and the cluster DNS, each a separate process as `klite up` starts them, on 127.0.0.1
with free ports, a Service range, NodePort range and iptables chain prefix of its own, and a kubeconfig.
Secured as `klite up` secures it (tests/support/secured.py): TLS, each daemon with the credentials of its own
identity, and the admin's kubeconfig with the CA and client certificate embedded, as kubectl and kr8s read it.

Everything is stopped by PID at the end, the proxy's rules removed, and the node's containers removed.
"""

from __future__ import annotations

import io
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from cli import supervise
from tests.support import secured

# Images the client suites name that this machine can make without a registry. Kubernetes' pause image
# (gcr.io/google_containers/pause) is a process that sleeps until SIGTERM or SIGINT and then exits at once; the
# stand-in is that, made from the local busybox:latest (deploy/images.sh). kubelite/pause:3.9 itself would not do:
# its `sleep` as PID 1 ignores SIGTERM, so every deleted pod would wait out its 30 s grace period. Images of real
# programs (nginx, ubuntu) are not faked: the tests that need them are excluded (kr8s_excluded.txt).
STAND_IN = "io.kubelite.stand-in"
STAND_INS = {
    "gcr.io/google_containers/pause:latest": (
        "FROM busybox:latest\n"
        'ENTRYPOINT ["/bin/sh", "-c", "trap \\"exit 0\\" TERM INT; while :; do sleep 3600 & wait $!; done"]\n'
        f'LABEL {STAND_IN}="pause: sleeps, exits on SIGTERM or SIGINT"\n'),
}


@dataclass
class Cluster:
    apiserver: str
    kubeconfig: Path
    node: str
    logs: Path
    daemons: list[supervise.Daemon]

    def dead(self) -> list[str]:
        """Names of the daemons that exited (empty when all still run)."""
        return [d.name for d in self.daemons if not supervise.running(d)]


def _stand_in_images(client: docker.DockerClient) -> None:
    """Build each stand-in that is missing (or is an image of the same name that is not ours)."""
    for name, dockerfile in STAND_INS.items():
        try:
            if STAND_IN in (client.images.get(name).labels or {}):
                continue
        except docker.errors.ImageNotFound:
            pass
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=name, rm=True, pull=False)


@pytest.fixture(scope="session")
def kubelite_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    run = secrets.token_hex(3)
    seed = int(run, 16)
    home = tmp_path_factory.mktemp("clients")
    logs = home / "logs"
    client = docker.from_env(timeout=60)
    client.ping()  # e2e: a real engine, fail loudly
    subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "deploy" / "images.sh")], check=True,
                   timeout=300)
    _stand_in_images(client)

    cidr = f"10.{128 + seed % 8}.{(seed >> 8) % 256}.0/24"  # clear of `klite up` (10.96/16, 10.112-127) and e2e
    dns_ip = cidr.rsplit(".", 1)[0] + ".10"
    ports = 32100 + (seed >> 16) % 16 * 40
    prefix = f"KLC{run.upper()}"
    node = f"clients-{run}"
    token = home / "kubelet-token"
    token.write_text(secrets.token_urlsafe(32) + "\n")
    token.chmod(0o600)
    started: list[supervise.Daemon] = []

    def launch(name: str, argv: list[str]) -> supervise.Daemon:
        daemon = supervise.start(f"{name}-{run}", argv, logs)
        started.append(daemon)
        return daemon

    try:
        etcd, daemon = supervise.start_etcd(f"etcd-{run}", home / "etcd", logs)
        started.append(daemon)
        pki = secured.TestPKI(home / "pki-home")
        api = secured.start_apiserver(pki, etcd, logs, f"apiserver-{run}", [
            "--service-account-signing-key-file", str(pki.cluster.service_account_key()),  # TokenRequest, as users run
            "--advertise-address", "127.0.0.1",  # the `kubernetes` Service (clients look it up), for this host only
            "--kubelet-token-file", str(token), "--service-cluster-ip-range", cidr,
            "--service-node-port-range", f"{ports}-{ports + 39}"])
        started.append(api.daemon)
        launch("scheduler", api.daemon_argv("scheduler"))
        launch("controller-manager", api.daemon_argv("controllers"))
        d = launch("kubelet", api.daemon_argv("kubelet", "--node-name", node, "--kubelet-token-file", str(token),
                                              "--cluster-dns", dns_ip, "--port", "0",
                                              "--root-dir", str(home / "kubelet")))
        supervise.wait_for(lambda: supervise.node_ready(api.credentials(), node), 60, f"node {node} to be Ready", d)
        launch("proxy", api.daemon_argv("proxy", "--node-name", node, "--service-cluster-ip-range", cidr,
                                        "--chain-prefix", prefix, "--cleanup-on-exit",
                                        "--healthz-bind-address", "127.0.0.1:0"))
        launch("dns", api.daemon_argv("proxy.dns", "--node-name", node, "--service-cluster-ip-range", cidr,
                                      "--port", "0", "--upstream", "127.0.0.1:9",
                                      "--healthz-bind-address", "127.0.0.1:0"))  # nothing leaves this host
        config = api.kubeconfig(path=home / "kubeconfig", context="kubelite-clients", embed=True)
        yield Cluster(api.url, config, node, logs, started)
    finally:
        for daemon in reversed(started):
            supervise.stop(daemon)
        subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", prefix,
                        "--service-cluster-ip-range", cidr], check=False, capture_output=True, timeout=60)
        for container in client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"}):
            container.remove(force=True)
