"""`kube-proxy-lite`: forward Service addresses (ClusterIP, NodePort) to ready endpoints on this node.

    python -m proxy --apiserver URL --node-name N [--mode auto|iptables|userspace]
    python -m proxy --cleanup [--chain-prefix P --service-cluster-ip-range CIDR]   # remove our rules and exit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket

import uvloop

from kube import log
from kube.client import ApiClient
from proxy.health import serve_health
from proxy.hostnet import CommandError, HostNetwork
from proxy.iptables import Config, IptablesBackend, valid_prefix
from proxy.proxier import Backend, Proxier
from proxy.userspace import UserspaceBackend

__all__ = ["main", "parse_args"]

logger = logging.getLogger("proxy")

DEFAULT_SERVICE_CIDR = "10.96.0.0/16"  # the apiserver's default --service-cluster-ip-range


def _default_node_name() -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.")
    return name or "kubelite-node"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-proxy-lite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"),
                   help="apiserver URL (env KUBELITE_APISERVER); ignored when --kubeconfig is given")
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--node-name", default=os.environ.get("KUBELITE_NODE_NAME") or _default_node_name(),
                   help="this node's name: Local traffic policies keep to its endpoints")
    p.add_argument("--mode", choices=["auto", "iptables", "userspace"], default="auto",
                   help="auto: iptables where this process may write rules (root), else userspace")
    p.add_argument("--service-cluster-ip-range", default=DEFAULT_SERVICE_CIDR,
                   help="the apiserver's service range: routed locally so unprogrammed addresses fail here")
    p.add_argument("--chain-prefix", default="KUBELITE",
                   help="names our iptables chains and lo address label: one proxy per prefix on a host")
    p.add_argument("--pod-bridge", default="docker0",
                   help="the bridge pods are on: hairpin mode is turned on for its ports (iptables mode)")
    p.add_argument("--masquerade-bit", type=int, default=14, help="fwmark bit for traffic to masquerade")
    p.add_argument("--min-sync-period", type=float, default=0.05,
                   help="seconds between two rewrites: a burst of changes becomes one")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds between full resyncs")
    p.add_argument("--healthz-bind-address", default="127.0.0.1:10256",
                   help="HOST:PORT for /healthz and /metrics (port 0: off)")
    p.add_argument("--cleanup", action="store_true", help="remove every rule and address of this prefix, exit")
    p.add_argument("--cleanup-on-exit", action="store_true",
                   help="remove rules and addresses when stopped (default: kept, so traffic flows across a restart)")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    args = p.parse_args(argv)
    if not valid_prefix(args.chain_prefix):
        p.error("--chain-prefix: 1-11 upper-case letters and digits, starting with a letter")
    return args


async def choose_backend(args: argparse.Namespace) -> Backend:
    host = HostNetwork(args.service_cluster_ip_range, args.chain_prefix)
    config = Config(prefix=args.chain_prefix, service_cidr=host.cidr, node_name=args.node_name,
                    masquerade_bit=args.masquerade_bit, bridge=args.pod_bridge)
    kernel = IptablesBackend(config, host)
    if args.mode in ("auto", "iptables"):
        try:
            if os.geteuid() != 0:
                raise CommandError("not root")
            await kernel.check()
            return kernel
        except CommandError as exc:
            if args.mode == "iptables":
                raise SystemExit(f"kube-proxy-lite: iptables mode is not possible here: {exc}") from None
            logger.warning("iptables mode is not possible here (%s); using userspace mode", exc)
    elif os.geteuid() == 0:
        with contextlib.suppress(CommandError):  # switching modes: drop what kernel mode left
            await kernel.check()
            await kernel.cleanup()
    return UserspaceBackend(host, args.node_name)


async def run(args: argparse.Namespace) -> None:
    if args.cleanup:
        host = HostNetwork(args.service_cluster_ip_range, args.chain_prefix)
        await IptablesBackend(Config(prefix=args.chain_prefix, service_cidr=host.cidr), host).cleanup()
        logger.info("removed the rules, addresses and route of prefix %s", args.chain_prefix)
        return
    backend = await choose_backend(args)
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kube-proxy-lite")
    else:
        client = ApiClient(args.apiserver, user_agent="kube-proxy-lite")
    proxier = Proxier(client, backend, args.node_name, min_sync_period=args.min_sync_period,
                      sync_period=args.sync_period)
    health = await serve_health(args.healthz_bind_address, proxier.synced.is_set, lambda: proxier.stats,
                                "kubelite_proxy")
    task = asyncio.create_task(proxier.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    logger.info("kube-proxy-lite on node %s, %s mode, chains %s-*, service range %s", args.node_name,
                backend.mode, args.chain_prefix, args.service_cluster_ip_range)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if health is not None:
            health.close()
        if args.cleanup_on_exit:
            await backend.cleanup()
            logger.info("removed our rules and addresses")
        else:
            await backend.close()
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("proxy", args.log_level)
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
