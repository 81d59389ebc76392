"""`kube-controller-manager-lite`: run the controllers (all, or those named) under one leader lease."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import uuid
from pathlib import Path

from controllers.context import ControllerContext, InformerFactory
from controllers.registry import available
from kube import log
from kube.client import ApiClient, kubeconfig
from kube.events import EventRecorder
from kube.leaderelection import LeaderElector, LeaseSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-controller-manager-lite", description=__doc__)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"),
                   help="apiserver URL (env KUBELITE_APISERVER); ignored when --kubeconfig is given")
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--controllers", default="*",
                   help="comma-separated controllers to run; '*' for all, '-name' to leave one out")
    p.add_argument("--leader-elect", default="true", choices=["true", "false"])
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds without a node heartbeat before the node is marked Unknown")
    p.add_argument("--job-backoff-base", type=float, default=None,
                   help="seconds before a Job's failed pod is replaced, doubled per further failure "
                        "(default 10, env KUBELITE_JOB_BACKOFF_BASE)")
    p.add_argument("--root-ca-file", type=Path,
                   help="the cluster CA published to every namespace as the kube-root-ca.crt ConfigMap "
                        "(default: the CA the --kubeconfig trusts)")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    return p.parse_args(argv)


def root_ca(args: argparse.Namespace) -> str:
    """The PEM the root-ca-cert-publisher spreads: --root-ca-file, else the kubeconfig's CA, else none."""
    if args.root_ca_file:
        return args.root_ca_file.read_text()
    if args.kubeconfig:
        verify = kubeconfig.load(args.kubeconfig).verify
        if isinstance(verify, str):
            return Path(verify).read_text()
    return ""


def selected(spec: str, names: list[str]) -> list[str]:
    parts = [s.strip() for s in spec.split(",") if s.strip()]
    chosen = set(names) if "*" in parts else set()
    for part in parts:
        if part.startswith("-"):
            chosen.discard(part[1:])
        elif part != "*":
            if part not in names:
                raise SystemExit(f"unknown controller {part!r}; known: {', '.join(names)}")
            chosen.add(part)
    return sorted(chosen)


async def run_controllers(client: ApiClient, args: argparse.Namespace) -> None:
    catalogue = available()
    informers = InformerFactory(client)
    ctx = ControllerContext(client, informers, EventRecorder(client, "controller-manager"), options={
        "node_monitor_grace_period": args.node_monitor_grace_period,
        "job_backoff_base": args.job_backoff_base,
        "root_ca": root_ca(args),
    })
    controllers = [catalogue[name](ctx) for name in selected(args.controllers, list(catalogue))]
    informers.start()
    try:
        await asyncio.gather(*(c.run() for c in controllers))
    finally:
        await informers.stop()


async def run(args: argparse.Namespace) -> None:
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kube-controller-manager-lite")
    else:
        client = ApiClient(args.apiserver, user_agent="kube-controller-manager-lite")
    if args.leader_elect == "true":
        identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        elector = LeaderElector(client, LeaseSettings(
            "kube-system", "kube-controller-manager", identity, args.leader_elect_lease_duration,
            args.leader_elect_renew_deadline, args.leader_elect_retry_period))
        work = elector.run(lambda: run_controllers(client, args))
    else:
        work = run_controllers(client, args)
    task = asyncio.create_task(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("controller-manager", args.log_level)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
