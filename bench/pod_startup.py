"""Pod startup: N pods created at once, time from create to Running, kubelite vs raw Docker (with and without
the pause sandbox, whose cost is the difference).

kubelite: a fresh etcd, apiserver, scheduler and kubelet (real processes), secured as `klite up` runs them (TLS,
Node,RBAC, each daemon with its own identity, the load as the admin); N Pods POSTed concurrently, Running
observed through a watch. Baseline, in the same run: the same N pods made directly through the
Docker SDK from N threads (sandbox container, then the app container joined to its network), which is
the floor any kubelet on this engine can reach.

    python bench/pod_startup.py --pods 20 --rounds 3

Prints a table, then one JSON line with every figure and ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, start_apiserver
from cli import supervise
from kube.client import ApiClient
from kube.resources import NAMESPACES, PODS

PAUSE = "kubelite/pause:3.9"
APP = "busybox:latest"
LABEL = "io.kubelite.bench"


# ---------------------------------------------------------------- baseline: raw Docker SDK

def raw_round(client: docker.DockerClient, n: int, tag: str, sandbox: bool = True) -> tuple[float, list[float]]:
    """N pods straight through the SDK; `sandbox=False` starts the app container alone (the sandbox's cost
    is the difference)."""
    def one(i: int) -> float:
        t0 = time.perf_counter()
        network: dict = {}
        if sandbox:
            pause = client.containers.run(PAUSE, detach=True, name=f"bench-raw-{tag}-{i}-pause", labels={LABEL: tag})
            network = {"network_mode": f"container:{pause.id}"}
        client.containers.run(APP, ["sleep", "3600"], detach=True, name=f"bench-raw-{tag}-{i}-app",
                              labels={LABEL: tag}, **network)
        return time.perf_counter() - t0

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        latencies = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}={tag}"}):
        c.remove(force=True)
    return wall, latencies


# ---------------------------------------------------------------- kubelite

def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"containers": [{"name": "app", "image": APP, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}],
                     "terminationGracePeriodSeconds": 1}}


async def kubelite_round(api: ApiClient, ns: str, n: int, tag: str) -> tuple[float, list[float]]:
    rv = (await api.list(PODS, ns))["metadata"]["resourceVersion"]
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    names = [f"p-{tag}-{i}" for i in range(n)]

    async def watch() -> None:
        async for kind, obj in api.watch(PODS, ns, resource_version=rv, timeout_seconds=120):
            if kind in ("ADDED", "MODIFIED") and (obj.get("status") or {}).get("phase") == "Running":
                running.setdefault(obj["metadata"]["name"], time.perf_counter())
                if all(name in running for name in names):
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)

    async def create(name: str) -> None:
        created[name] = time.perf_counter()
        await api.create(PODS, pod(name), ns)

    start = time.perf_counter()
    await asyncio.gather(*(create(name) for name in names))
    await asyncio.wait_for(watcher, 120)
    wall = max(running.values()) - start
    latencies = [running[name] - created[name] for name in names]
    await asyncio.gather(*(api.delete(PODS, name, ns) for name in names))
    deadline = time.monotonic() + 60
    while (await api.list(PODS, ns))["items"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return wall, latencies


async def run_kubelite(n: int, rounds: int, workdir: Path) -> tuple[list[float], list[float]]:
    logs = workdir / "logs"
    started: list[supervise.Daemon] = []
    node = f"bench-{secrets.token_hex(3)}"
    try:
        etcd, daemon = supervise.start_etcd("etcd", workdir / "etcd", logs)
        started.append(daemon)
        apiserver = start_apiserver(workdir, etcd, logs)
        started.append(apiserver.daemon)
        started.append(supervise.start("scheduler", apiserver.daemon_argv("scheduler"), logs))
        started.append(supervise.start("kubelet", apiserver.daemon_argv("kubelet", "--node-name", node), logs))
        supervise.wait_for(lambda: supervise.node_ready(apiserver.admin, node), 60, f"node {node}", started[-1])
        walls, latencies = [], []
        async with apiserver.api() as api:
            await api.create(NAMESPACES, {"metadata": {"name": "bench"}})
            for r in range(rounds):
                wall, lat = await kubelite_round(api, "bench", n, f"r{r}")
                walls.append(wall)
                latencies += lat
        return walls, latencies
    finally:
        for daemon in reversed(started):
            supervise.stop(daemon)
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"}):
            c.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    client = docker.from_env(timeout=120)
    raw_walls, raw_lat, bare_walls, bare_lat = [], [], [], []
    for r in range(args.rounds):
        wall, lat = raw_round(client, args.pods, f"{secrets.token_hex(2)}{r}")
        raw_walls.append(wall)
        raw_lat += lat
        wall, lat = raw_round(client, args.pods, f"{secrets.token_hex(2)}{r}b", sandbox=False)
        bare_walls.append(wall)
        bare_lat += lat
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        kl_walls, kl_lat = asyncio.run(run_kubelite(args.pods, args.rounds, Path(tmp)))

    figures = {
        "pods": args.pods,
        "rounds": args.rounds,
        "raw_no_sandbox_wall_median_s": round(statistics.median(bare_walls), 3),
        "raw_no_sandbox_latency_p50_s": round(percentile(bare_lat, 50), 3),
        "raw_wall_median_s": round(statistics.median(raw_walls), 3),
        "raw_latency_p50_s": round(percentile(raw_lat, 50), 3),
        "raw_latency_p99_s": round(percentile(raw_lat, 99), 3),
        "kubelite_wall_median_s": round(statistics.median(kl_walls), 3),
        "kubelite_latency_p50_s": round(percentile(kl_lat, 50), 3),
        "kubelite_latency_p99_s": round(percentile(kl_lat, 99), 3),
    }
    figures["wall_ratio"] = round(figures["kubelite_wall_median_s"] / figures["raw_wall_median_s"], 2)
    figures["p99_ratio"] = round(figures["kubelite_latency_p99_s"] / figures["raw_latency_p99_s"], 2)
    figures["sandbox_cost_wall_ratio"] = round(
        figures["raw_wall_median_s"] / figures["raw_no_sandbox_wall_median_s"], 2)
    print(f"{args.pods} pods at once, {args.rounds} rounds (medians; latency = create -> Running)")
    print(f"{'':<22}{'wall':>10}{'p50':>10}{'p99':>10}")
    print(f"{'raw, no sandbox':<22}{figures['raw_no_sandbox_wall_median_s']:>9.2f}s"
          f"{figures['raw_no_sandbox_latency_p50_s']:>9.2f}s")
    print(f"{'raw Docker SDK':<22}{figures['raw_wall_median_s']:>9.2f}s{figures['raw_latency_p50_s']:>9.2f}s"
          f"{figures['raw_latency_p99_s']:>9.2f}s")
    print(f"{'kubelite':<22}{figures['kubelite_wall_median_s']:>9.2f}s{figures['kubelite_latency_p50_s']:>9.2f}s"
          f"{figures['kubelite_latency_p99_s']:>9.2f}s")
    print(f"{'ratio':<22}{figures['wall_ratio']:>9.2f}x{'':>10}{figures['p99_ratio']:>9.2f}x")
    print(f"the sandbox costs {figures['sandbox_cost_wall_ratio']:.2f}x the wall time of app containers alone")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
