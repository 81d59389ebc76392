"""`kube-scheduler-lite`: assign pending pods to nodes.

With --leader-elect (the default) several replicas may run: all keep their caches warm, only the holder of the
Lease kube-system/kube-scheduler schedules, and a standby takes over when the lease expires. Losing the lease
ends the process (exit 1), as kube-scheduler does, to be restarted as a fresh candidate.
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

from kube import healthz, log
from kube.client import ApiClient, kubeconfig
from kube.leaderelection import LeaderElector, LeaseSettings
from scheduler import config as sched_config
from scheduler import server
from scheduler.hotpath import HotPathClient
from scheduler.scheduler import Scheduler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-scheduler-lite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"),
                   help="apiserver URL (env KUBELITE_APISERVER); ignored when --kubeconfig is given")
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--config", help="a KubeSchedulerConfiguration YAML file (profiles, plugins, weights)")
    p.add_argument("--scheduler-name", default=None,
                   help="schedule pods whose spec.schedulerName is this (default-scheduler); without --config")
    p.add_argument("--retry-interval", type=float, default=None,
                   help="seconds after which unschedulable pods are tried again even if nothing changed (60)")
    p.add_argument("--leader-elect", default=None, choices=["true", "false"],
                   help="elect a leader through a Lease before scheduling (default true)")
    p.add_argument("--leader-elect-lease-duration", type=float, default=None, help="seconds (15)")
    p.add_argument("--leader-elect-renew-deadline", type=float, default=None, help="seconds (10)")
    p.add_argument("--leader-elect-retry-period", type=float, default=None, help="seconds (2)")
    p.add_argument("--leader-elect-resource-name", default=None, help="the Lease's name (kube-scheduler)")
    p.add_argument("--leader-elect-resource-namespace", default=None, help="the Lease's namespace (kube-system)")
    p.add_argument("--bind-concurrency", type=int, default=32, help="bindings and status writes in flight at once")
    p.add_argument("--bind-address", default="127.0.0.1", help="address of /healthz, /readyz and /metrics")
    p.add_argument("--port", type=int, default=0, help="port of /healthz, /readyz and /metrics (0: off)")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    return p.parse_args(argv)


def metrics_text(sched: Scheduler, elector: LeaderElector | None = None) -> str:
    lines = []
    if elector is not None:  # client-go's leader election metric: 1 while this replica leads
        lines.append("# TYPE leader_election_master_status gauge\n"
                     f'leader_election_master_status{{name="{elector.settings.name}"}} {int(elector.is_leader)}')
    for name, value in sorted(sched.metrics.items()):
        lines.append(f"# TYPE scheduler_{name} counter\nscheduler_{name} {value}")
    pending = sched.queue.pending()
    lines.append("# TYPE scheduler_pending_pods gauge")
    lines += [f'scheduler_pending_pods{{queue="{q}"}} {len(keys)}' for q, keys in pending.items()]
    lines.append(f"# TYPE scheduler_cache_nodes gauge\nscheduler_cache_nodes {sched.cache.num_nodes()}")
    lines.append(f"# TYPE scheduler_events_dropped counter\nscheduler_events_dropped {sched.events.dropped}")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> int:
    try:
        cfg = sched_config.load(args.config) if args.config else sched_config.default_config(
            args.scheduler_name or "default-scheduler")
    except sched_config.ConfigError as exc:
        print(f"kube-scheduler-lite: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.retry_interval is not None:
        cfg.pod_max_in_unschedulable = args.retry_interval
    le = cfg.leader_election
    for flag, key in (("leader_elect_lease_duration", "lease_duration"),
                      ("leader_elect_renew_deadline", "renew_deadline"),
                      ("leader_elect_retry_period", "retry_period"),
                      ("leader_elect_resource_name", "name"), ("leader_elect_resource_namespace", "namespace")):
        if getattr(args, flag) is not None:
            le[key] = getattr(args, flag)
    leader_elect = le.get("leader_elect", True) if args.leader_elect is None else args.leader_elect == "true"

    if args.kubeconfig:
        creds = kubeconfig.load(args.kubeconfig)
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kube-scheduler-lite")
        hot = HotPathClient(creds.server, token=creds.token, verify=creds.verify, cert=creds.cert,
                            max_connections=args.bind_concurrency)
    else:
        client = ApiClient(args.apiserver, user_agent="kube-scheduler-lite")
        hot = HotPathClient(args.apiserver, max_connections=args.bind_concurrency)
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    try:
        sched = Scheduler(client, hot, cfg, identity=identity)
    except sched_config.ConfigError as exc:
        print(f"kube-scheduler-lite: invalid configuration: {exc}", file=sys.stderr)
        return 2
    lost = False
    elector = LeaderElector(client, LeaseSettings(
        le.get("namespace", "kube-system"), le.get("name", "kube-scheduler"), identity,
        le.get("lease_duration", 15.0), le.get("renew_deadline", 10.0), le.get("retry_period", 2.0))) \
        if leader_elect else None
    shutdown = healthz.Shutdown()

    async def main_task() -> None:
        nonlocal lost
        synced = False
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sched.run_informers(), name="informers")
            if args.port:
                tg.create_task(server.serve(args.bind_address, args.port, lambda: synced,
                                            lambda: metrics_text(sched, elector), elector, shutdown), name="server")
            await sched.wait_synced()
            synced = True
            if elector is not None:
                await elector.run(sched.run_scheduling)
                lost = True  # run() returns only when the lease is lost (or the work ended)
                raise asyncio.CancelledError
            await sched.run_scheduling()

    task = asyncio.create_task(main_task())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        shutdown.stopping = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await hot.close()
    await client.close()
    if lost:
        logging.getLogger("scheduler").error("leader election lost; exiting")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("scheduler", args.log_level)
    try:
        import uvloop  # comes with uvicorn[standard]; a faster event loop for the scheduling loop
    except ImportError:
        code = asyncio.run(run(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            code = runner.run(run(args))
    sys.exit(code)


if __name__ == "__main__":
    main()
