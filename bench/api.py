"""apiserver throughput and watch latency, beside baselines measured in the same run.

    python bench/api.py --objects 1000 --concurrency 32 --watchers 100

Measures, against a fresh etcd:
  - raw aetcd: puts/s and gets/s (the storage floor, no HTTP);
  - a bare FastAPI endpoint (uvicorn, uvloop, httptools) doing one aetcd put per request: the ceiling of
    one Python process serving writes;
  - kubelite's apiserver as users run it — TLS, a client certificate, Node,RBAC authorization of a user who
    is not system:masters (so every request is authorized by RBAC) — creates/s and gets/s of Pods (decoding,
    defaulting, validation, admission, compare-and-swap), list latency of all objects, and watch delivery
    latency with N watchers (from sending the write to each watcher's receipt);
  - the same apiserver binary with --insecure (plain HTTP, no authentication or authorization) over the same
    etcd: the secured path's creates and gets as a fraction of it, over --rounds interleaved rounds (the
    order alternating), each round's secured rate paired with the insecure rate of that round; medians.
Load comes from this process (aiohttp; httpx for lists and watches; bounded concurrency and count).
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aetcd
import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import profiling
from bench.common import bounded, percentile, start_apiserver
from cli import certs, supervise
from kube.client.rest import tls_context


async def raw_etcd(port: int, n: int, concurrency: int) -> tuple[float, float]:
    client = aetcd.Client(host="127.0.0.1", port=port)
    await client.connect()
    value = json.dumps({"pad": "x" * 900}).encode()
    puts = await bounded(n, concurrency, lambda i: client.put(f"/bench/raw/{i}".encode(), value))
    gets = await bounded(n, concurrency, lambda i: client.get(f"/bench/raw/{i}".encode()))
    await client.close()
    return puts, gets


BENCH_USER = certs.Identity("bench-user", ("bench",))


def grant_bench_user() -> list[tuple[str, dict]]:
    """What the load's user may do, through RBAC (a user outside system:masters: every request is authorized)."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = {"metadata": {"name": "bench-pods"}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch"]}]}
    binding = {"metadata": {"name": "bench-pods"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bench-pods"},
        "subjects": [{"kind": "Group", "name": "bench", "apiGroup": "rbac.authorization.k8s.io"}]}
    return [(f"{rbac}/clusterroles", role), (f"{rbac}/clusterrolebindings", binding)]


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "api"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]}}


async def http_rates(url: str, path: str, n: int, concurrency: int, prefix: str,
                     get_path: str | None, tls: ssl.SSLContext | None = None,
                     phase: Callable[[str], profiling.Phase] | None = None) -> tuple[float, float | None]:
    """Creates/s (and gets/s of what was created, when `get_path`); each measured inside `phase(verb)` if given."""
    # aiohttp, not httpx, generates the load: httpx's async pool served ~120 req/s at 32 connections
    # here (against ~2,500 for aiohttp), which would measure the client instead of the servers.
    # Connections are kept alive, as any real client's are: TLS costs one handshake per connection.
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=tls if tls is not None else False)
    within = phase or (lambda _: contextlib.nullcontext())
    async with aiohttp.ClientSession(base_url=url, connector=connector) as http:
        async def create(i: int) -> None:
            async with http.post(path, json=pod(f"{prefix}-{i}")) as resp:
                assert resp.status in (200, 201), await resp.text()

        with within("creates"):
            creates = await bounded(n, concurrency, create)
        gets = None
        if get_path:
            async def get(i: int) -> None:
                async with http.get(f"{get_path}/{prefix}-{i}") as resp:
                    assert resp.status == 200, await resp.text()
                    await resp.read()

            with within("gets"):
                gets = await bounded(n, concurrency, get)
    return creates, gets


async def list_latency(url: str, path: str, repeats: int, tls: ssl.SSLContext | bool = True) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=60, verify=tls) as http:
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            resp = await http.get(path)
            resp.raise_for_status()
            samples.append(time.perf_counter() - t0)
            count = len(resp.json()["items"])
        return [*samples, count]


async def watch_latency(url: str, ns: str, watchers: int, events: int,
                        tls: ssl.SSLContext | bool = True) -> list[float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    ready = asyncio.Event()
    connected = 0
    limits = httpx.Limits(max_connections=watchers + 8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(60, read=None),
                                 verify=tls) as http:
        rv = (await http.get(f"/api/v1/namespaces/{ns}/pods")).json()["metadata"]["resourceVersion"]

        async def watcher() -> None:
            nonlocal connected
            seen = 0
            async with http.stream("GET", f"/api/v1/namespaces/{ns}/pods",
                                   params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": 60}) as resp:
                connected += 1
                if connected == watchers:
                    ready.set()
                async for line in resp.aiter_lines():
                    if not line:
                        continue
                    now = time.perf_counter()
                    name = json.loads(line)["object"]["metadata"]["name"]
                    if name in sent:
                        latencies.append(now - sent[name])
                    seen += 1
                    if seen == events:
                        return

        tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(0.5)
        for i in range(events):
            name = f"w-{i}"
            # Counted from the moment the write is sent (an upper bound: it includes the write itself),
            # since watchers often receive the event before the writer has read its reply.
            sent[name] = time.perf_counter()
            resp = await http.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name))
            resp.raise_for_status()
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return latencies


async def measure(args: argparse.Namespace, work: Path) -> dict:
    logs = work / "logs"
    started = []
    phases: dict[str, list[profiling.Phase]] = {}  # by name, one per round
    try:
        etcd, daemon = supervise.start_etcd("etcd", work / "etcd", logs)
        started.append(daemon)
        etcd_port = int(etcd.rsplit(":", 1)[1])

        bare_port = supervise.free_port()
        started.append(supervise.start("bare", [sys.executable, str(Path(__file__).parent / "bare_app.py"),
                                                "--etcd-port", str(etcd_port), "--port", str(bare_port)], logs))
        bare = f"http://127.0.0.1:{bare_port}"
        supervise.wait_http(f"{bare}/healthz", 30, started[-1])

        plain = start_apiserver(work, etcd, logs, name="apiserver-insecure", insecure=True)
        started.append(plain.daemon)
        insecure = plain.url

        secured = start_apiserver(work, etcd, logs)  # as `klite up` runs it: TLS, client certificates, Node,RBAC
        started.append(secured.daemon)
        assert secured.pki is not None
        api = secured.url
        admin = secured.ssl_context()
        user = tls_context(str(secured.pki.ca_file), tuple(map(str, secured.pki.client("bench", BENCH_USER))))

        def phase(measured: supervise.Daemon, other: supervise.Daemon, prefix: str) -> Callable[[str], profiling.Phase]:
            """The CPU of the measured apiserver (py-spy samples it with --profile), the idle one (its watch cache
            still decodes every event), etcd and this process (the load generator), over one verb's load; with
            --profile, py-spy samples the first round."""
            def start(verb: str) -> profiling.Phase:
                name = f"{prefix}-{verb}"
                rounds = phases.setdefault(name, [])
                rounds.append(profiling.Phase(name, {"apiserver": measured.pid, "other_apiserver": other.pid,
                                                     "etcd": daemon.pid, "client": os.getpid()},
                                              None if rounds else args.profile, args.profile_rate,
                                              args.profile_native))
                return rounds[-1]
            return start

        raw_puts, raw_gets = await raw_etcd(etcd_port, args.objects, 16)
        bare_creates, _ = await http_rates(bare, "/put", args.objects, args.concurrency, "bare", None)
        async with httpx.AsyncClient(base_url=insecure) as http:
            for r in range(args.rounds):
                (await http.post("/api/v1/namespaces", json={"metadata": {"name": f"plain-{r}"}})).raise_for_status()
        async with httpx.AsyncClient(base_url=api, verify=admin) as http:
            for ns in ["watch", *(f"bench-{r}" for r in range(args.rounds))]:
                (await http.post("/api/v1/namespaces", json={"metadata": {"name": ns}})).raise_for_status()
            for path, body in grant_bench_user():
                (await http.post(path, json=body)).raise_for_status()
        await asyncio.sleep(0.5)  # the RBAC objects reach the authorizer through the watch cache
        modes = {"insecure": (insecure, "plain", None, phase(plain.daemon, secured.daemon, "insecure")),
                 "secured": (api, "bench", user, phase(secured.daemon, plain.daemon, "secured"))}
        rates: dict[str, list[tuple[float, float]]] = {"insecure": [], "secured": []}
        # Rounds alternate which server goes first, so a shared machine's drift falls on both alike; each
        # round's secured rate is compared with the insecure rate of the same round.
        for r in range(args.rounds):
            for mode in (("insecure", "secured") if r % 2 == 0 else ("secured", "insecure")):
                url, ns, tls, measured = modes[mode]
                path = f"/api/v1/namespaces/{ns}-{r}/pods"
                c, g = await http_rates(url, path, args.objects, args.concurrency, "p", path, tls, phase=measured)
                rates[mode].append((c, g or 0.0))
        plain_creates, plain_gets = (statistics.median(x) for x in zip(*rates["insecure"], strict=True))
        creates, gets = (statistics.median(x) for x in zip(*rates["secured"], strict=True))
        ratios = [(s[0] / i[0], s[1] / i[1]) for s, i in zip(rates["secured"], rates["insecure"], strict=True)]
        creates_ratio, gets_ratio = (statistics.median(x) for x in zip(*ratios, strict=True))
        secured_phase = modes["secured"][3]
        with secured_phase("list"):
            *lists, count = await list_latency(api, "/api/v1/namespaces/bench-0/pods", args.list_repeats, user)
        assert count == args.objects, count
        delivery = await watch_latency(api, "watch", args.watchers, args.watch_events, user)
        assert len(delivery) == args.watchers * args.watch_events, len(delivery)
    finally:
        for daemon in reversed(started):
            supervise.stop(daemon)
    requests = {"creates": args.objects, "gets": args.objects, "list": args.list_repeats}
    cpu = {name: {label: round(1000 * sum(p.cpu[label] for p in rounds) / requests[name.rsplit("-", 1)[1]]
                               / len(rounds), 3) for label in rounds[0].cpu} for name, rounds in phases.items()}
    cores = {name: {label: round(sum(p.cpu[label] for p in rounds) / sum(p.wall for p in rounds), 2)
                    for label in rounds[0].cpu} for name, rounds in phases.items()}
    return {
        "objects": args.objects, "concurrency": args.concurrency, "watchers": args.watchers,
        "raw_etcd_puts_per_s": round(raw_puts), "raw_etcd_gets_per_s": round(raw_gets),
        "bare_fastapi_put_per_s": round(bare_creates),
        "apiserver_creates_per_s": round(creates), "apiserver_gets_per_s": round(gets),
        "insecure_creates_per_s": round(plain_creates), "insecure_gets_per_s": round(plain_gets),
        "secured_vs_insecure_creates": round(creates_ratio, 2),
        "secured_vs_insecure_gets": round(gets_ratio, 2),
        "rounds": args.rounds,
        "secured_vs_insecure_per_round": [[round(c, 2), round(g, 2)] for c, g in ratios],
        "list_ms_p50": round(statistics.median(lists) * 1000, 1), "list_ms_p99": round(percentile(lists, 99) * 1000, 1),
        "watch_delivery_ms_p50": round(percentile(delivery, 50) * 1000, 2),
        "watch_delivery_ms_p99": round(percentile(delivery, 99) * 1000, 2),
        "creates_vs_bare_ratio": round(creates / bare_creates, 2),
        "creates_vs_raw_etcd_ratio": round(creates / raw_puts, 2),
        "gets_vs_raw_etcd_ratio": round(gets / raw_gets, 2),
        "cpu_ms_per_request": cpu,
        "cpu_cores": cores,
        "profiled": args.profile is not None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--watch-events", type=int, default=50)
    p.add_argument("--list-repeats", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds of creates and gets on each apiserver, interleaved; rates and ratios are medians")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="sample the measured apiserver with py-spy in each phase: DIR/PHASE.svg (flame graph), "
                        "PHASE.top.txt (top frames), PHASE.txt (collapsed stacks); the sampling slows it a little")
    p.add_argument("--profile-rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--profile-native", action="store_true",
                   help="sample native frames too (OpenSSL, parsers): the apiserver is stopped at each sample, so "
                        "its rates fall several times; the shares still tell where time goes")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-api-") as tmp:
        f = asyncio.run(measure(args, Path(tmp)))
    print(f"{args.objects} objects, concurrency {args.concurrency}, {args.watchers} watchers")
    print(f"  raw aetcd            puts/s {f['raw_etcd_puts_per_s']:>7}   gets/s {f['raw_etcd_gets_per_s']:>7}")
    print(f"  bare FastAPI + put   req/s  {f['bare_fastapi_put_per_s']:>7}")
    print(f"  apiserver --insecure creates/s {f['insecure_creates_per_s']:>5}   gets/s {f['insecure_gets_per_s']:>7}"
          "   (plain HTTP, nobody authenticated or authorized)")
    print(f"  apiserver secured    creates/s {f['apiserver_creates_per_s']:>5}   gets/s {f['apiserver_gets_per_s']:>7}"
          f"   ({f['creates_vs_bare_ratio']}x bare, {f['gets_vs_raw_etcd_ratio']}x raw gets; TLS + RBAC: "
          f"{f['secured_vs_insecure_creates']}x / {f['secured_vs_insecure_gets']}x of --insecure)")
    print(f"  secured / insecure   per round (creates, gets): {f['secured_vs_insecure_per_round']}"
          f"   (medians of {f['rounds']} interleaved rounds above)")
    print(f"  list of {args.objects}          p50 {f['list_ms_p50']} ms   p99 {f['list_ms_p99']} ms")
    print(f"  watch delivery       p50 {f['watch_delivery_ms_p50']} ms   p99 {f['watch_delivery_ms_p99']} ms")
    print("  CPU ms per request    apiserver  other apiserver  etcd  client (bench)")
    for name, cpu in f["cpu_ms_per_request"].items():
        print(f"    {name:<19} {cpu['apiserver']:>9.3f} {cpu['other_apiserver']:>16.3f} {cpu['etcd']:>5.3f} "
              f"{cpu['client']:>7.3f}")
    if args.profile is not None:
        print(f"  py-spy profiles in {args.profile}/ (PHASE.svg, PHASE.top.txt): figures taken while sampling")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
