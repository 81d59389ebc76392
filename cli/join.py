"""`klite join`: this machine becomes a node of a running cluster, the way `kubeadm join` does it.

1. Discovery: the public `kube-public/cluster-info` is read without trusting the server yet; the CA inside is
   accepted only if its public key hashes to `--discovery-token-ca-cert-hash` (what `klite token create
   --print-join-command` prints), and from then on every connection verifies the server against it.
2. TLS bootstrapping: the kubelet starts with the bootstrap token only; it asks for its own certificate
   (system:node:NAME), which the controller-manager approves and signs, and rotates it before it expires.
3. The kubelet runs under the supervisor of `klite up` in `--home` (`klite status` and `klite down` with the
   same `--home` work as for a local cluster).

The node's proxy and DNS are not started: they need the pod network across hosts (issue 13's lab), without
which Services could not reach pods elsewhere anyway.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from cryptography import x509

from cli import supervise, supervisor
from cli.cluster import _node_name, _state_path
from kube import pki
from kube.client import kubeconfig

__all__ = ["JoinError", "discover", "join"]

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"


class JoinError(Exception):
    """Why the node cannot join: printed as `error: ...`."""


def discover(server: str, ca_cert_hash: str, timeout: float = 10.0) -> bytes:
    """The cluster CA (PEM) from cluster-info, checked against the pinned hash of its public key."""
    try:
        with httpx.Client(verify=False, timeout=timeout) as client:  # nothing is trusted yet: the CA hash decides
            resp = client.get(f"{server.rstrip('/')}{CLUSTER_INFO}")
    except httpx.HTTPError as exc:
        raise JoinError(f"cannot reach {server}: {exc}") from None
    if resp.status_code != 200:
        raise JoinError(f"cannot read cluster-info from {server}: HTTP {resp.status_code} {_message(resp)}".rstrip())
    try:
        info = yaml.safe_load(resp.json()["data"]["kubeconfig"])
        ca_pem = base64.b64decode(info["clusters"][0]["cluster"]["certificate-authority-data"])
        ca = x509.load_pem_x509_certificate(ca_pem)
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise JoinError(f"cluster-info from {server} holds no usable CA: {exc}") from None
    found = pki.ca_cert_hash(ca)
    if found != ca_cert_hash.strip().lower():
        raise JoinError(f"the cluster CA's public key hash is {found}, not the {ca_cert_hash} you pinned: refusing "
                        "to trust this server")
    return ca_pem


def _message(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("message", ""))
    except ValueError:
        return ""


def _node_ready(config: Path, node: str) -> bool:
    if not config.exists():
        return False
    return supervise.node_ready(kubeconfig.load(config), node)


HomeOption = Annotated[Path, typer.Option("--home", envvar="KUBELITE_HOME", help="where this node's files live")]


def join(
    server: Annotated[str, typer.Option("--server", help="the apiserver, e.g. https://10.0.0.1:6443")],
    token: Annotated[str, typer.Option("--token", help="a bootstrap token from `klite token create`")],
    ca_cert_hash: Annotated[str, typer.Option(
        "--discovery-token-ca-cert-hash", "--ca-cert-hash", help="sha256:<hex> of the cluster CA's public key")],
    node_name: Annotated[str | None, typer.Option("--node-name", help="default: this host's name")] = None,
    node_ip: Annotated[str | None, typer.Option("--node-ip", help="default: the host's primary address")] = None,
    cluster_dns: Annotated[str, typer.Option("--cluster-dns", help="the cluster DNS Service's IP")] = "10.96.0.10",
    home: HomeOption = Path("~/.kubelite-node"),
    timeout: Annotated[float, typer.Option(help="seconds to wait for the certificate and the node")] = 120.0,
) -> None:
    """Join this machine to a cluster as a node: discovery, TLS bootstrapping, a supervised kubelet."""
    home = home.expanduser()
    if _state_path(home).exists():
        typer.echo(f"error: {home} already holds a node or cluster: `klite down --home {home}` first", err=True)
        raise typer.Exit(1)
    try:
        ca_pem = discover(server, ca_cert_hash)
    except JoinError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    node = node_name or _node_name()
    typer.echo(f"[discovery] cluster CA verified against {ca_cert_hash}")
    pki_dir, logs, run = home / "pki", home / "logs", home / "run"
    for folder in (pki_dir, logs, run):
        folder.mkdir(parents=True, exist_ok=True)
    ca_file = pki_dir / "ca.crt"
    ca_file.write_bytes(ca_pem)
    bootstrap_config = home / "bootstrap-kubelet.conf"
    bootstrap_config.unlink(missing_ok=True)
    kubeconfig.merge_context("tls-bootstrap", server, path=bootstrap_config, ca_file=str(ca_file), token=token)
    bootstrap_config.chmod(0o600)
    config = home / "kubelet.conf"
    argv = [*supervise.python_module("kubelet"), "--bootstrap-kubeconfig", str(bootstrap_config),
            "--kubeconfig", str(config), "--cert-dir", str(pki_dir), "--client-ca-file", str(ca_file),
            "--node-name", node, "--root-dir", str(home / "kubelet"), "--cluster-dns", cluster_dns,
            *(["--node-ip", node_ip] if node_ip else [])]
    spec: dict[str, Any] = {"name": "kubelet", "argv": argv, "log": str(logs / "kubelet.log"), "ready_url": None,
                            "ready_ca": None, "health": None}
    supervisor.spec_path(home).write_text(json.dumps({"daemons": [spec]}, indent=2))
    supervisor.status_path(home).unlink(missing_ok=True)
    boss = supervise.start("supervisor", [*supervise.python_module("cli.supervisor"), "--home", str(home)], logs, run)
    state = {"apiserver": server, "ca": str(ca_file), "node": node, "admin_kubeconfig": str(config), "joined": True,
             "supervisor": {"pid": boss.pid, "marker": boss.marker, "log": str(boss.log)}}
    _state_path(home).write_text(json.dumps(state, indent=2))
    typer.echo(f"[kubelet] started with the bootstrap token; it asks for system:node:{node}'s certificate")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _node_ready(config, node):
                break
        except Exception:  # not registered or not yet reachable with its certificate: not yet
            pass
        if not supervise.running(boss):
            typer.echo(f"error: the supervisor exited; log {boss.log}", err=True)
            raise typer.Exit(1)
        time.sleep(0.5)
    else:
        typer.echo(f"error: node {node} not Ready after {timeout:.0f}s; kubelet log {logs / 'kubelet.log'} "
                   f"(`klite down --home {home}` to stop)", err=True)
        raise typer.Exit(1)
    typer.echo(f"node {node} joined {server} and is Ready; its certificate is in {pki_dir}")
    typer.echo(f"  `klite status --home {home}` shows its kubelet, `klite down --home {home}` stops it")
