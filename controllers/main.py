"""`kube-controller-manager-lite`: run the controllers (all, or those named) under one leader lease.

Losing the lease ends the process with exit code 1, as kube-controller-manager does, so that whatever supervises it
(systemd, the kubelet, `klite up`'s supervisor) starts a fresh candidate. With --port it serves /healthz and /livez
(`ping`, `log`, `leaderElection`), /readyz (those and `shutdown`) and /metrics (`leader_election_master_status`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

from controllers.context import ControllerContext, InformerFactory
from controllers.registry import available
from kube import healthz, log, pki, timeutil
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
    p.add_argument("--cluster-signing-cert-file", type=Path,
                   help="the CA certificate the csrsigning controller issues certificates with (PEM)")
    p.add_argument("--cluster-signing-key-file", type=Path, help="its private key (PEM)")
    p.add_argument("--cluster-signing-duration", type=timeutil.go_duration_seconds, default=365 * 24 * 3600.0,
                   help="the longest certificate csrsigning issues (Go duration, default 8760h)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address of /healthz, /livez, /readyz and /metrics")
    p.add_argument("--port", type=int, default=0, help="port of /healthz, /livez, /readyz and /metrics (0: off)")
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


def signing_ca(args: argparse.Namespace) -> pki.CertificateAuthority | None:
    """The csrsigning controller's CA: both files, or none (then it signs nothing)."""
    cert, key = args.cluster_signing_cert_file, args.cluster_signing_key_file
    if bool(cert) != bool(key):
        raise SystemExit("kube-controller-manager-lite: --cluster-signing-cert-file and --cluster-signing-key-file "
                         "go together")
    if not cert:
        return None
    try:
        return pki.CertificateAuthority.load(cert, key)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"kube-controller-manager-lite: cluster signing CA: {exc}") from None


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
        "cluster_signing_ca": signing_ca(args),
        "cluster_signing_duration": args.cluster_signing_duration,
    })
    controllers = [catalogue[name](ctx) for name in selected(args.controllers, list(catalogue))]
    informers.start()
    try:
        await asyncio.gather(*(c.run() for c in controllers))
    finally:
        await informers.stop()


def health_endpoints(elector: LeaderElector | None,
                     shutdown: healthz.Shutdown) -> dict[str, list[healthz.NamedCheck]]:
    """{endpoint: checks} as kube-controller-manager installs them (the lease watchdog in all three)."""
    live = [healthz.PING, healthz.LOG, *([elector.healthz_check()] if elector else [])]
    return {"healthz": live, "livez": live, "readyz": [*live, shutdown.named]}


def metrics_text(elector: LeaderElector | None) -> str:
    """client-go's leader election gauge (1 while this replica leads); the controllers' own metrics come later."""
    if elector is None:
        return ""
    return ("# TYPE leader_election_master_status gauge\n"
            f'leader_election_master_status{{name="{elector.settings.name}"}} {int(elector.is_leader)}\n')


async def run(args: argparse.Namespace) -> int:
    """Run until signalled (0) or until the lease is lost (1)."""
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kube-controller-manager-lite")
    else:
        client = ApiClient(args.apiserver, user_agent="kube-controller-manager-lite")
    elector = None
    if args.leader_elect == "true":
        identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        elector = LeaderElector(client, LeaseSettings(
            "kube-system", "kube-controller-manager", identity, args.leader_elect_lease_duration,
            args.leader_elect_renew_deadline, args.leader_elect_retry_period))
    shutdown = healthz.Shutdown()
    lost = False

    async def main_task() -> None:
        nonlocal lost
        async with asyncio.TaskGroup() as tg:
            if args.port:
                tg.create_task(healthz.serve(args.bind_address, args.port, health_endpoints(elector, shutdown),
                                             {"/metrics": lambda: (200, metrics_text(elector),
                                                                   "text/plain; version=0.0.4; charset=utf-8")},
                                             component="controller-manager"), name="server")
            if elector is None:
                await run_controllers(client, args)
            else:
                await elector.run(lambda: run_controllers(client, args))
                lost = True  # run() returns only when the lease is lost (a crash of the work raises)
            raise asyncio.CancelledError  # the work ended: stop the server too

    task = asyncio.create_task(main_task())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        shutdown.stopping = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()
    if lost:
        logging.getLogger("controller-manager").error("leaderelection lost; exiting")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("controller-manager", args.log_level)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
