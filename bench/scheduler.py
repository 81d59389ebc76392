"""Scheduler throughput with hollow nodes, beside the apiserver's own rates measured in the same run.

    python bench/scheduler.py --nodes 1000 --pods 1000

Against a fresh etcd and apiserver, secured as `klite up` runs it (TLS, Node,RBAC; the load is the admin, the
scheduler its own identity, system:kube-scheduler):
  1. N hollow nodes (Node objects, Ready, no kubelet), 32 cpu / 128Gi / 110 pods each, three zones;
  2. ceiling: M pods created in bulk for a scheduler that does not exist (the apiserver's raw create rate for the
     same pods), then bound round robin by a trivial binder at the same concurrency (the raw bind rate), then
     force-deleted;
  3. the scheduler (`python -m scheduler`, its own process) is started and waits until its caches are synced;
     M pods are created in bulk again; a watch records when each gets its node. Reported: pods bound per second
     (M / (last binding - first create)), the scheduler-only rate (M / (last - first binding)), p50/p99 time
     from creation to binding, and the ratios to the ceilings, including the combined one
     1 / (1/creates + 1/binds): one apiserver has to do both for every pod. Nodes are then checked: no node's
     requests exceed its allocatable.
With --backlog the pods are created before the scheduler starts, and the rate is its drain rate.
Load comes from this process (aiohttp, bounded concurrency). Prints a table and, last, one JSON line with every
figure; the headline rate is under `pods_per_s`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bounded, percentile, start_apiserver
from cli import supervise


def node(i: int) -> dict:
    name = f"hollow-{i:05d}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "hollow": "true",
                                                  "topology.kubernetes.io/zone": f"zone-{i % 3}"}},
            "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, scheduler: str = "default-scheduler") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "scheduler"}},
            "spec": {"schedulerName": scheduler,
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


async def post(http: aiohttp.ClientSession, path: str, body: dict) -> None:
    async with http.post(path, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"POST {path}: {resp.status} {await resp.text()}")
        await resp.read()


async def ceiling(http: aiohttp.ClientSession, args: argparse.Namespace) -> tuple[float, float]:
    """The apiserver's create rate and a trivial binder's bind rate for the same pods."""
    ns = "/api/v1/namespaces/ceiling/pods"
    creates = await bounded(args.pods, args.concurrency, lambda i: post(http, ns, pod(f"c-{i}", "nobody")))

    def bind(i: int):
        return post(http, f"{ns}/c-{i}/binding", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"c-{i}"},
                                                  "target": {"kind": "Node", "name": f"hollow-{i % args.nodes:05d}"}})

    binds = await bounded(args.pods, args.concurrency, bind)

    async def delete(i: int) -> None:
        async with http.delete(f"{ns}/c-{i}", json={"gracePeriodSeconds": 0}) as resp:
            await resp.read()

    await bounded(args.pods, args.concurrency, delete)
    return creates, binds


async def measured(http: aiohttp.ClientSession, args: argparse.Namespace,
                   start_scheduler: Callable[[], Awaitable[list[supervise.Daemon]]]) -> dict:
    """Stream mode: the scheduler runs while the pods are created. Backlog mode: the pods exist first and the
    scheduler is started on them (its drain rate). CPU per pod is counted from just before the first pod (stream)
    or the scheduler's start (backlog) to the last binding."""
    path = "/api/v1/namespaces/bench/pods"
    async with http.get(path) as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    created: dict[str, float] = {}
    seen: dict[str, float] = {}  # when this process's watch saw the pod first (the apiserver's watch lag)
    bound: dict[str, float] = {}
    placement: dict[str, str] = {}
    done = asyncio.Event()

    async def watch() -> None:
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": str(int(args.timeout) + 60)}
        async with http.get(path, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                node_name = (obj.get("spec") or {}).get("nodeName")
                name = (obj.get("metadata") or {}).get("name")
                seen.setdefault(name, time.perf_counter())
                if node_name and name not in bound:
                    bound[name] = time.perf_counter()
                    placement[name] = node_name
                    if len(bound) >= args.pods:
                        done.set()
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)

    async def create(i: int) -> None:
        name = f"p-{i}"
        created[name] = time.perf_counter()
        await post(http, path, pod(name))

    daemons: list[supervise.Daemon] = []
    if not args.backlog:
        daemons = await start_scheduler()
        await asyncio.sleep(1)
    before = {d.name: cpu_seconds(d.pid) for d in daemons} | {"bench": own_cpu_seconds()}
    first = time.perf_counter()
    create_rate = await bounded(args.pods, args.concurrency, create)
    if args.backlog:
        daemons = await start_scheduler()
        before |= {d.name: cpu_seconds(d.pid) for d in daemons if d.name != "scheduler"}
        before["scheduler"] = 0.0
        first = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), args.timeout)
    after = {d.name: cpu_seconds(d.pid) for d in daemons} | {"bench": own_cpu_seconds()}
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await watcher
    if len(bound) < args.pods:
        raise RuntimeError(f"only {len(bound)}/{args.pods} pods bound within {args.timeout}s")
    last = max(bound.values())
    latencies = [bound[n] - created[n] for n in bound]
    watch_lags = [seen[n] - created[n] for n in created if n in seen]
    per_node = Counter(placement.values())
    out = {
        "pods_per_s": args.pods / (last - first),
        "scheduler_only_per_s": args.pods / max(last - min(bound.values()), 1e-9),
        "create_per_s_while_scheduling": create_rate,
        "latency_p50_ms": percentile(latencies, 50) * 1000,
        "latency_p99_ms": percentile(latencies, 99) * 1000,
        "watch_lag_p50_ms": percentile(watch_lags, 50) * 1000,
        "nodes_used": len(per_node),
        "max_pods_per_node": max(per_node.values()),
        "min_pods_per_node": min(per_node.get(f"hollow-{i:05d}", 0) for i in range(args.nodes)),
    }
    for name in before:
        out[f"cpu_ms_per_pod_{name}"] = 1000 * (after.get(name, 0.0) - before[name]) / args.pods
    return out


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def overcommitted(http: aiohttp.ClientSession) -> int:
    """Nodes whose pods request more cpu than the node has (must be 0)."""
    items: list[dict] = []
    token = ""
    while True:  # paginated: one list of thousands of pods is slow to build and to read
        params = {"limit": "500", **({"continue": token} if token else {})}
        async with http.get("/api/v1/pods", params=params) as resp:
            body = await resp.json()
        if "items" not in body:
            raise RuntimeError(f"listing pods: {body}")
        items += body["items"]
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            break
    millis: Counter[str] = Counter()
    for p in items:
        node_name = p["spec"].get("nodeName")
        if node_name:
            millis[node_name] += sum(int(c["resources"]["requests"]["cpu"].rstrip("m"))
                                     for c in p["spec"]["containers"])
    return sum(1 for v in millis.values() if v > 32000)


async def metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def measure(args: argparse.Namespace, work: Path) -> dict:
    logs = work / "logs"
    started: list[supervise.Daemon] = []
    try:
        etcd, daemon = supervise.start_etcd("etcd", work / "etcd", logs, "--quota-backend-bytes", str(8 * 2**30))
        started.append(daemon)
        apiserver = start_apiserver(work, etcd, logs)
        started.append(apiserver.daemon)
        # The load is the admin, over TLS with kept-alive connections, as any client of the cluster.
        connector = aiohttp.TCPConnector(limit=args.concurrency + 4, ssl=apiserver.ssl_context())
        async with aiohttp.ClientSession(base_url=apiserver.url, connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=120)) as http:
            for ns in ("ceiling", "bench"):
                await post(http, "/api/v1/namespaces", {"metadata": {"name": ns}})
            await bounded(args.nodes, args.concurrency, lambda i: post(http, "/api/v1/nodes", node(i)))
            create_ceiling, bind_ceiling = await ceiling(http, args)

            sched_port = supervise.free_port()
            profiler = ["-m", "cProfile", "-o", args.profile] if args.profile else []

            async def start_scheduler() -> list[supervise.Daemon]:
                started.append(supervise.start("scheduler", [
                    sys.executable, *profiler, "-m", "scheduler", *apiserver.daemon_flags(
                        "scheduler", "--leader-elect", "false", "--port", str(sched_port), "--log-level", "warning",
                        *args.scheduler_arg)], logs))
                await asyncio.to_thread(supervise.wait_http, f"http://127.0.0.1:{sched_port}/readyz", 60,
                                        started[-1])
                return started

            figures = await measured(http, args, start_scheduler)
            figures["overcommitted_nodes"] = await overcommitted(http)
            metrics_url = f"http://127.0.0.1:{sched_port}/metrics"
            attempts = max(await metric(metrics_url, "scheduler_attempts"), 1)
            for name in ("scheduling", "queue_wait", "binding"):
                figures[f"scheduler_{name}_ms_mean"] = 1000 * await metric(
                    metrics_url, f"scheduler_{name}_seconds_sum") / attempts
    finally:
        for daemon in reversed(started):
            supervise.stop(daemon)
    figures.update({
        "nodes": args.nodes, "pods": args.pods, "concurrency": args.concurrency, "backlog": args.backlog,
        "apiserver_create_per_s": create_ceiling, "raw_bind_per_s": bind_ceiling,
    })
    # What one apiserver can do when it must both create and bind every pod: the real ceiling of end-to-end
    # scheduling through it (events and watches come on top).
    figures["create_and_bind_ceiling_per_s"] = 1 / (1 / create_ceiling + 1 / bind_ceiling)
    figures["ratio_to_create_ceiling"] = figures["pods_per_s"] / create_ceiling
    figures["ratio_to_raw_bind"] = figures["pods_per_s"] / bind_ceiling
    figures["ratio_to_create_and_bind_ceiling"] = figures["pods_per_s"] / figures["create_and_bind_ceiling_per_s"]
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight from this load generator")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for all pods to be bound")
    p.add_argument("--scheduler-arg", action="append", default=[], help="extra flag for the scheduler (repeat)")
    p.add_argument("--backlog", action="store_true",
                   help="create the pods first, then start the scheduler (its drain rate) instead of streaming")
    p.add_argument("--etcd-on-tmpfs", action=argparse.BooleanOptionalAction, default=True,
                   help="keep etcd's data in /dev/shm (default) rather than on disk")
    p.add_argument("--profile", help="run the scheduler under cProfile, writing the stats to this file")
    args = p.parse_args()
    if args.nodes < 1 or args.pods < 1 or args.nodes > 20000 or args.pods > 50000:
        p.error("--nodes in [1, 20000] and --pods in [1, 50000]")
    # etcd's data on tmpfs (as Kubernetes' own integration and perf tests run it): a shared disk's fsync stalls
    # would otherwise dominate both the ceiling and the measured run.
    base = "/dev/shm" if args.etcd_on_tmpfs and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-scheduler-", dir=base) as tmp:
        f = asyncio.run(measure(args, Path(tmp)))
    mode = "backlog (pods first, then the scheduler)" if args.backlog else "stream (pods created while scheduling)"
    print(f"{f['pods']} pods on {f['nodes']} hollow nodes, concurrency {f['concurrency']}, {mode}")
    print(f"  apiserver creates (ceiling)     {f['apiserver_create_per_s']:>8} pods/s")
    print(f"  trivial binder (raw bindings)   {f['raw_bind_per_s']:>8} pods/s")
    print(f"  both, one after the other       {f['create_and_bind_ceiling_per_s']:>8} pods/s   "
          "(create + bind per pod on one apiserver)")
    print(f"  kubelite scheduler, end to end  {f['pods_per_s']:>8} pods/s   "
          f"({f['ratio_to_create_ceiling']}x creates, {f['ratio_to_raw_bind']}x raw binds, "
          f"{f['ratio_to_create_and_bind_ceiling']}x create+bind)")
    print(f"  scheduler only (first to last)  {f['scheduler_only_per_s']:>8} pods/s")
    print(f"  creation -> binding             p50 {f['latency_p50_ms']} ms   p99 {f['latency_p99_ms']} ms")
    print(f"  creation -> seen by a watch     p50 {f['watch_lag_p50_ms']} ms (the apiserver's own delay)")
    print(f"  inside the scheduler (means)    queue wait {f['scheduler_queue_wait_ms_mean']} ms, cycle "
          f"{f['scheduler_scheduling_ms_mean']} ms, binding call {f['scheduler_binding_ms_mean']} ms")
    print(f"  placement                       {f['nodes_used']} nodes used, {f['min_pods_per_node']}-"
          f"{f['max_pods_per_node']} pods per node, {f['overcommitted_nodes']} over-committed")
    cpu = ", ".join(f"{k.removeprefix('cpu_ms_per_pod_')} {v}" for k, v in f.items() if k.startswith("cpu_ms_per_pod_"))
    print(f"  CPU ms per pod                  {cpu}")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
