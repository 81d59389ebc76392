"""kube/healthz.py renders health as k8s.io/apiserver's healthz package does: `ok`, `?verbose` lines, failures as
`reason withheld` with 500, `?exclude=`, one check at `/<endpoint>/<name>`, and the tiny asyncio server."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kube import healthz
from kube.leaderelection import LeaderElector, LeaseSettings


async def _broken() -> str | None:
    return "etcd: connection refused"


def _raises() -> str | None:
    raise RuntimeError("boom")


CHECKS = [healthz.PING, healthz.LOG, healthz.NamedCheck("etcd", _broken)]


@pytest.mark.parametrize(("checks", "subpath", "query", "status", "body"), [
    pytest.param(CHECKS[:2], "", {}, 200, "ok", id="all-pass"),
    pytest.param(CHECKS[:2], "", {"verbose": [""]}, 200, "[+]ping ok\n[+]log ok\nreadyz check passed\n", id="verbose"),
    pytest.param(CHECKS, "", {}, 500,
                 "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nreadyz check failed\n", id="failure"),
    pytest.param(CHECKS, "", {"exclude": ["etcd", "nope"], "verbose": [""]}, 200,
                 '[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\nwarn: some health checks cannot be excluded: '
                 'no matches for "nope"\nreadyz check passed\n', id="exclude"),
    pytest.param(CHECKS, "/etcd", {}, 500, "internal server error: etcd: connection refused\n", id="one-failing"),
    pytest.param(CHECKS, "/ping", {}, 200, "ok", id="one-passing"),
    pytest.param([healthz.NamedCheck("x", _raises)], "/x", {}, 500, "internal server error: boom\n", id="raises"),
])
async def test_answer(checks: list[healthz.NamedCheck], subpath: str, query: dict[str, list[str]], status: int,
                      body: str) -> None:
    found = await healthz.answer("readyz", checks, subpath, query)
    assert found == healthz.Answer(status, body)


async def test_unknown_check_is_not_found() -> None:
    assert await healthz.answer("livez", CHECKS, "/nothing", {}) is None


async def test_leader_watchdog_fails_only_for_a_leader_that_stopped_renewing() -> None:
    elector = LeaderElector(None, LeaseSettings("kube-system", "kube-scheduler", "me", 15, 10, 2))  # type: ignore[arg-type]
    assert elector.check() is None  # not leading: healthy
    elector.is_leader, elector.observed = True, asyncio.get_running_loop().time()
    assert elector.check() is None
    elector.observed -= 40
    assert elector.check() == "failed election to renew leadership on lease kube-scheduler"
    assert elector.healthz_check().name == "leaderElection"


async def test_serve_answers_over_http() -> None:
    from cli.supervise import free_port

    port = free_port()
    task = asyncio.create_task(healthz.serve("127.0.0.1", port, {"readyz": CHECKS, "livez": CHECKS[:2]},
                                             {"/metrics": lambda: (200, "m 1\n", "text/plain")}))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            for _ in range(50):
                try:
                    live = await client.get("/livez?verbose")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert (live.status_code, live.text) == (200, "[+]ping ok\n[+]log ok\nlivez check passed\n")
            ready = await client.get("/readyz")
            assert ready.status_code == 500 and "[-]etcd failed: reason withheld" in ready.text
            assert ready.headers["content-type"] == "text/plain; charset=utf-8"
            assert (await client.get("/readyz/ping")).text == "ok"
            assert (await client.get("/metrics")).text == "m 1\n"
            assert (await client.get("/other")).status_code == 404
    finally:
        task.cancel()
