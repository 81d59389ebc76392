"""`kube-scheduler-lite`: assign pending pods to nodes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

from kube import log
from kube.client import ApiClient
from scheduler.scheduler import Scheduler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-scheduler-lite", description=__doc__)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"),
                   help="apiserver URL (env KUBELITE_APISERVER); ignored when --kubeconfig is given")
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--scheduler-name", default="default-scheduler",
                   help="schedule only pods whose spec.schedulerName is this")
    p.add_argument("--retry-interval", type=float, default=30.0,
                   help="seconds after which unschedulable pods are tried again even if nothing changed")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kube-scheduler-lite")
    else:
        client = ApiClient(args.apiserver, user_agent="kube-scheduler-lite")
    scheduler = Scheduler(client, scheduler_name=args.scheduler_name, retry_interval=args.retry_interval)
    task = asyncio.create_task(scheduler.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("scheduler", args.log_level)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
