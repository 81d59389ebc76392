"""The scheduler's own HTTP endpoint: /healthz, /livez and /readyz with kube-scheduler's named checks, and /metrics.

/healthz and /livez: `ping`, `log` and, with leader election, `leaderElection` (the lease watchdog); /readyz adds
`sched-handler-sync` (the informers have listed) and `shutdown`. Rendering is Kubernetes' (kube/healthz.py):
`?verbose`, `?exclude=`, `/readyz/<check>`. Plain asyncio, one request per connection: it is polled by humans and
probes, not by the cluster.
"""

from __future__ import annotations

from collections.abc import Callable

from kube import healthz
from kube.leaderelection import LeaderElector

__all__ = ["checks", "serve"]


def checks(synced: Callable[[], bool], elector: LeaderElector | None,
           shutdown: healthz.Shutdown) -> dict[str, list[healthz.NamedCheck]]:
    """{endpoint: checks} as kube-scheduler installs them."""
    live = [healthz.PING, healthz.LOG, *([elector.healthz_check()] if elector else [])]
    handler_sync = healthz.NamedCheck("sched-handler-sync",
                                      lambda: None if synced() else "waiting for handlers to sync")
    return {"healthz": live, "livez": live, "readyz": [*live, handler_sync, shutdown.named]}


async def serve(host: str, port: int, synced: Callable[[], bool], metrics: Callable[[], str],
                elector: LeaderElector | None = None, shutdown: healthz.Shutdown | None = None) -> None:
    """Serve until cancelled."""
    await healthz.serve(host, port, checks(synced, elector, shutdown or healthz.Shutdown()),
                        {"/metrics": lambda: (200, metrics(), "text/plain; version=0.0.4; charset=utf-8")},
                        component="scheduler")
