"""Service proxy throughput and latency: requests through a ClusterIP beside the same requests sent straight to
the pod, in the same run, for each proxy mode (iptables, userspace).

A fresh etcd, apiserver, endpoints controller, kubelet and proxy (real processes, private service range and
chain prefix, secured as `klite up` runs them: TLS, Node,RBAC, each daemon with its own identity); one busybox
httpd pod behind one Service, so both paths end at the same server. Each sample sends --requests HTTP/1.0
requests (a new TCP connection each, as busybox httpd closes after every answer) from --concurrency workers,
bounded by --seconds; samples alternate direct and through-Service, --rounds times per mode; a ratio is taken
per round (two samples back to back) and the median reported, as the machine's load drifts. busybox httpd's
listen backlog is 9: keep the concurrency moderate.

    python bench/proxy.py --requests 1500 --rounds 5 --concurrency 6

Prints a table, then one JSON line with every figure and ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, start_apiserver
from cli import supervise
from kube.resources import NAMESPACES, PODS, SERVICES

REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"
WEB = "mkdir -p /www && echo $HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"


async def one_request(ip: str, port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 5)
    writer.write(REQUEST)
    data = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    if not data.startswith(b"HTTP/1.") or b" 200 " not in data[:16]:
        raise RuntimeError(f"bad answer {data[:40]!r}")
    return time.perf_counter() - started


async def sample(ip: str, port: int, requests: int, concurrency: int, seconds: float) -> dict[str, float]:
    """`requests` requests from `concurrency` workers (stops early after `seconds`): rate and latencies."""
    latencies: list[float] = []
    failures = 0
    remaining = requests
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal remaining, failures
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            try:
                latencies.append(await one_request(ip, port))
            except (OSError, RuntimeError, TimeoutError):
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {"rps": len(latencies) / wall, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "failures": failures, "count": len(latencies)}


async def wait_answering(ip: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await one_request(ip, port)
            return
        except (OSError, RuntimeError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    logs = workdir / "logs"
    tag = secrets.token_hex(3)
    node, prefix = f"bench-{tag}", f"KLB{tag.upper()}"
    cidr = f"10.{100 + int(tag[:2], 16) % 12}.{int(tag[2:4], 16)}.0/24"
    started: list[supervise.Daemon] = []
    figures: dict[str, float] = {}
    try:
        etcd, daemon = supervise.start_etcd("etcd", workdir / "etcd", logs)
        started.append(daemon)
        apiserver = start_apiserver(workdir, etcd, logs, "--service-cluster-ip-range", cidr)
        started.append(apiserver.daemon)
        started.append(supervise.start("controllers", apiserver.daemon_argv(
            "controllers", "--leader-elect", "false", "--controllers", "endpoints"), logs))
        started.append(supervise.start("kubelet", apiserver.daemon_argv("kubelet", "--node-name", node), logs))
        supervise.wait_for(lambda: supervise.node_ready(apiserver.admin, node), 60, f"node {node}", started[-1])
        async with apiserver.api() as api:
            await api.create(NAMESPACES, {"metadata": {"name": "bench"}})
            await api.create(PODS, {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {
                "nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{
                    "name": "web", "image": "busybox:latest", "command": ["sh", "-c", WEB],
                    "ports": [{"containerPort": 8080}]}]}}, "bench")
            svc = await api.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
                "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}, "bench")
            cluster_ip = svc["spec"]["clusterIP"]
            deadline = time.monotonic() + 60
            while not (pod_ip := ((await api.get(PODS, "web", "bench")).get("status") or {}).get("podIP")):
                if time.monotonic() > deadline:
                    raise TimeoutError("the pod got no IP")
                await asyncio.sleep(0.2)
        await wait_answering(pod_ip, 8080)
        for mode in args.modes:
            proxy = supervise.start(f"proxy-{mode}", apiserver.daemon_argv(
                "proxy", "--node-name", node, "--mode", mode, "--service-cluster-ip-range", cidr,
                "--chain-prefix", prefix, "--healthz-bind-address", "127.0.0.1:0"), logs)
            try:
                await wait_answering(cluster_ip, 80)
                await sample(pod_ip, 8080, 200, args.concurrency, 5)  # warm up both paths
                await sample(cluster_ip, 80, 200, args.concurrency, 5)
                runs: dict[str, list[dict[str, float]]] = {"direct": [], "service": []}
                for r in range(args.rounds):
                    order = [("direct", pod_ip, 8080), ("service", cluster_ip, 80)]
                    for path, ip, port in order if r % 2 == 0 else reversed(order):
                        runs[path].append(await sample(ip, port, args.requests, args.concurrency, args.seconds))
                for path, results in runs.items():
                    for key in ("rps", "p50_ms", "p99_ms"):
                        figures[f"{mode}_{path}_{key}"] = round(statistics.median(r[key] for r in results), 2)
                    figures[f"{mode}_{path}_failures"] = sum(r["failures"] for r in results)
                # ratios per round (its two samples ran back to back, under the same machine load), then the median
                pairs = list(zip(runs["direct"], runs["service"], strict=True))
                figures[f"{mode}_rps_ratio"] = round(statistics.median(s["rps"] / d["rps"] for d, s in pairs), 3)
                figures[f"{mode}_p99_ratio"] = round(statistics.median(s["p99_ms"] / d["p99_ms"] for d, s in pairs), 3)
            finally:
                supervise.stop(proxy)
                subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", prefix,
                                "--service-cluster-ip-range", cidr], check=False, capture_output=True, timeout=60)
        return figures
    finally:
        for daemon in reversed(started):
            supervise.stop(daemon)
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"}):
            c.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1500, help="requests per sample")
    parser.add_argument("--rounds", type=int, default=5, help="samples per path and mode")
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0, help="upper bound on one sample's duration")
    parser.add_argument("--modes", default="iptables,userspace")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        figures = uvloop.run(run(args, Path(tmp)))
    figures.update(requests=args.requests, rounds=args.rounds, concurrency=args.concurrency)
    print(f"{args.requests} requests x {args.rounds} rounds per path, {args.concurrency} concurrent, new connection "
          "each (medians)")
    print(f"{'':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'failures':>10}")
    for mode in args.modes:
        for path in ("direct", "service"):
            label = f"{mode} {'pod IP' if path == 'direct' else 'ClusterIP'}"
            print(f"{label:<22}{figures[f'{mode}_{path}_rps']:>10.0f}{figures[f'{mode}_{path}_p50_ms']:>10.2f}"
                  f"{figures[f'{mode}_{path}_p99_ms']:>10.2f}{figures[f'{mode}_{path}_failures']:>10.0f}")
        ratios = f"{figures[f'{mode}_rps_ratio']:>9.2f}x{'':>10}{figures[f'{mode}_p99_ratio']:>9.2f}x"
        print(f"{mode + ' ratio':<22}{ratios}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
