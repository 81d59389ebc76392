"""`kubelet-lite`: register this machine as a Node and run the Pods bound to it in Docker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker.errors

from kube import errors, log
from kube.client import ApiClient
from kubelet import certificate
from kubelet.auth import KubeletAuth, serving_context
from kubelet.kubelet import Kubelet
from kubelet.launch import DnsSettings
from kubelet.naming import sanitize_node_name
from kubelet.node import DEFAULT_EVICTION_HARD, detect_node_ip, parse_resource_list, parse_thresholds
from kubelet.runtime import DockerRuntime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubelet-lite", description=__doc__)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"),
                   help="apiserver URL (env KUBELITE_APISERVER); ignored when --kubeconfig is given")
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--bootstrap-kubeconfig", type=Path,
                   help="a kubeconfig with a bootstrap token: when --kubeconfig is missing or its certificate "
                        "unusable, ask for a node certificate with it (TLS bootstrapping)")
    p.add_argument("--cert-dir", type=Path, help="where the bootstrapped client certificate is kept "
                                                "(default: <root-dir>/pki)")
    p.add_argument("--rotate-certificates", type=lambda s: s.lower() in ("1", "true", "yes"), default=True,
                   help="ask for a new client certificate before the bootstrapped one expires (default true)")
    p.add_argument("--client-ca-file", type=Path,
                   help="serve HTTPS and authenticate callers (the apiserver) by client certificates from this CA")
    p.add_argument("--tls-cert-file", type=Path, help="the serving certificate (default: self-signed in --cert-dir)")
    p.add_argument("--tls-private-key-file", type=Path, help="its key")
    p.add_argument("--authorization-mode", choices=["AlwaysAllow", "Webhook"], default="Webhook",
                   help="with --client-ca-file: ask the apiserver (SubjectAccessReview) whether a caller may use "
                        "nodes/proxy of this node (Webhook, the default), or let every authenticated caller in")
    p.add_argument("--node-name", default=os.environ.get("KUBELITE_NODE_NAME"),
                   help="the Node's name (env KUBELITE_NODE_NAME; default: the hostname, lowercased)")
    p.add_argument("--node-ip", help="the node's InternalIP (default: the host's primary address)")
    p.add_argument("--max-pods", type=int, default=110, help="the node's pod capacity")
    p.add_argument("--heartbeat-interval", type=float, default=10.0,
                   help="seconds between renewals of the node's Lease in kube-node-lease")
    p.add_argument("--node-status-interval", type=float, default=60.0,
                   help="seconds between node status writes when nothing changed")
    p.add_argument("--sync-interval", type=float, default=5.0,
                   help="seconds between resyncs of every pod (and removals of orphaned containers)")
    p.add_argument("--backoff-initial", type=float, default=10.0,
                   help="first restart back-off of a crashing container (and of image pulls), in seconds")
    p.add_argument("--backoff-max", type=float, default=300.0, help="longest back-off, in seconds")
    p.add_argument("--address", help="address of the kubelet's HTTP endpoint (container logs for the apiserver); "
                                     "default: the node IP")
    p.add_argument("--port", type=int, default=10250,
                   help="port of that endpoint (0, or 10250 already taken: any free port; the Node publishes it)")
    p.add_argument("--kubelet-token-file", default=os.environ.get("KUBELITE_KUBELET_TOKEN_FILE"),
                   help="a file holding the token the apiserver presents (its --kubelet-token-file); "
                        "without one the endpoint asks for none")
    p.add_argument("--root-dir", default=os.environ.get("KUBELITE_KUBELET_ROOT_DIR", "/var/lib/kubelite/kubelet"),
                   help="directory for pod volumes and files (a subdirectory per node name)")
    p.add_argument("--cluster-dns", action="append", default=[],
                   help="IP of the cluster DNS server for pods with dnsPolicy ClusterFirst (repeatable, or "
                        "comma-separated); without one those pods get the node's resolver")
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS domain")
    p.add_argument("--resolv-conf", default="/etc/resolv.conf",
                   help="the resolver configuration pods with dnsPolicy Default inherit")
    p.add_argument("--system-reserved", default="", help="resources kept for the system, e.g. cpu=100m,memory=256Mi")
    p.add_argument("--kube-reserved", default="", help="resources kept for kubernetes daemons, same syntax")
    p.add_argument("--eviction-hard", default=DEFAULT_EVICTION_HARD,
                   help="pressure thresholds: memory.available, nodefs.available, pid.available (quantity or %%)")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    try:
        system_reserved = parse_resource_list(args.system_reserved)
        kube_reserved = parse_resource_list(args.kube_reserved)
        parse_thresholds(args.eviction_hard)
    except ValueError as exc:
        raise SystemExit(f"kubelet: {exc}") from None
    dns_servers = [ip.strip() for value in args.cluster_dns for ip in value.split(",") if ip.strip()]
    # Docker calls are blocking and some (a stop with a grace period) last long: give them room.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64, thread_name_prefix="docker"))
    credentials = await _bootstrapped(args)
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kubelet-lite")
    else:
        client = ApiClient(args.apiserver, user_agent="kubelet-lite")
    rotation = asyncio.create_task(
        certificate.CertificateManager(client, credentials, node_name(args)).run(), name="certificate-rotation") \
        if credentials is not None and args.rotate_certificates else None
    try:
        runtime = DockerRuntime()
    except docker.errors.DockerException as exc:
        await client.close()
        raise SystemExit(f"kubelet: cannot reach the Docker engine: {exc}") from None
    try:
        kubelet = make_kubelet(args, client, runtime, system_reserved, kube_reserved, dns_servers)
    except OSError as exc:  # the root dir cannot be made
        runtime.close()
        await client.close()
        raise SystemExit(f"kubelet: {exc}") from None
    task = asyncio.create_task(kubelet.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
        logging.getLogger("kubelet").info("kubelet stopped; pod containers keep running")
    finally:
        if rotation is not None:
            rotation.cancel()
        runtime.close()
        await client.close()


async def _bootstrapped(args: argparse.Namespace) -> certificate.Credentials | None:
    """With --bootstrap-kubeconfig: the node's own credentials, asked for first if needed; else None."""
    if args.bootstrap_kubeconfig is None:
        return None
    if not args.kubeconfig:
        raise SystemExit("kubelet: --bootstrap-kubeconfig needs --kubeconfig (where the credentials go)")
    cert_dir = args.cert_dir or Path(args.root_dir) / "pki"
    credentials = certificate.Credentials(Path(args.kubeconfig), cert_dir / certificate.CURRENT)
    try:
        await certificate.bootstrap(args.bootstrap_kubeconfig, credentials, node_name(args))
    except (OSError, ValueError, RuntimeError, TimeoutError, errors.ApiError) as exc:
        raise SystemExit(f"kubelet: TLS bootstrap failed: {exc}") from None
    return credentials


def node_name(args: argparse.Namespace) -> str:
    return str(args.node_name or sanitize_node_name(socket.gethostname()))


def api_security(args: argparse.Namespace, client: ApiClient, node: str,
                 node_ip: str) -> tuple[KubeletAuth, ssl.SSLContext | None]:
    """Who may call the kubelet's API and how it serves: HTTPS with client certificates (and webhook
    authorization unless --authorization-mode AlwaysAllow) when --client-ca-file is given, else HTTP."""
    token = Path(args.kubelet_token_file).read_text().strip() if args.kubelet_token_file else None
    if args.client_ca_file is None:
        return KubeletAuth(node, token=token), None
    cert_dir = args.cert_dir or Path(args.root_dir) / "pki"
    cert_dir.mkdir(parents=True, exist_ok=True)
    tls = serving_context(args.client_ca_file, args.tls_cert_file, args.tls_private_key_file, cert_dir, node,
                          node_ip)
    return KubeletAuth(node, token=token, client=client, mode=args.authorization_mode), tls


def make_kubelet(args: argparse.Namespace, client: ApiClient, runtime: DockerRuntime, system_reserved: dict[str, str],
                 kube_reserved: dict[str, str], dns_servers: list[str]) -> Kubelet:
    node, node_ip = node_name(args), args.node_ip or detect_node_ip()
    auth, tls = api_security(args, client, node, node_ip)
    return Kubelet(
        client, runtime,
        node_name=node,
        node_ip=node_ip,
        auth=auth, tls=tls,
        max_pods=args.max_pods,
        heartbeat_interval=args.heartbeat_interval,
        node_status_interval=args.node_status_interval,
        sync_interval=args.sync_interval,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
        address=args.address,
        port=args.port,
        root_dir=args.root_dir,
        dns_settings=DnsSettings(dns_servers, args.cluster_domain, args.resolv_conf),
        system_reserved=system_reserved,
        kube_reserved=kube_reserved,
        eviction_hard=args.eviction_hard,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("kubelet", args.log_level)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
