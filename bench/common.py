"""What the benchmarks share: percentiles, a bounded-concurrency rate loop, and a secured apiserver started as
`klite up` starts it.

`start_apiserver` gives the cluster a CA (cli.certs, under the bench's work directory), a serving certificate,
TLS with client certificates and Node,RBAC authorization; the bench's load is the admin (`admin`, `api`,
`ssl_context`) and each daemon gets the kubeconfig of its own Kubernetes identity (`daemon_argv`). With
`insecure=True` the same binary serves plain HTTP with nobody authenticated: only for a bench that measures what
security costs beside it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli import certs, supervise
from kube.client import ApiClient, kubeconfig
from kube.client.rest import tls_context

AUTHORIZATION = "Node,RBAC"  # what `klite up` runs


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def bounded(n: int, concurrency: int, job: Callable[[int], Awaitable[object]]) -> float:
    """Run job(i) for i < n with at most `concurrency` in flight; the achieved rate per second."""
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await job(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


def _identity(module: str, args: Sequence[str]) -> tuple[str, certs.Identity]:
    """The kubeconfig name and Kubernetes identity of the daemon `module` started with `args`."""
    if module == "kubelet":
        node = args[list(args).index("--node-name") + 1]
        return f"kubelet-{node}", certs.node_identity(node)
    name = {"scheduler": "scheduler", "controllers": "controller-manager", "proxy": "proxy",
            "proxy.dns": "proxy"}[module]
    return name, certs.COMPONENTS[name]


@dataclass
class Apiserver:
    url: str
    daemon: supervise.Daemon
    pki: certs.ClusterPKI | None  # None: --insecure
    admin: supervise.Access  # the admin's credentials (the plain URL when insecure)
    _configs: dict[str, Path] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The admin's client TLS context (None when insecure), for aiohttp or httpx."""
        if isinstance(self.admin, str):
            return None
        assert isinstance(self.admin.verify, str)
        return tls_context(self.admin.verify, self.admin.cert)

    def api(self, **kwargs: Any) -> ApiClient:
        if isinstance(self.admin, str):
            return ApiClient(self.url, **kwargs)
        return ApiClient(self.url, verify=self.admin.verify, cert=self.admin.cert, **kwargs)

    def daemon_flags(self, module: str, *args: str) -> list[str]:
        """`args` after the kubeconfig of the daemon's identity (when insecure, the plain --apiserver URL)."""
        if self.pki is None:
            return ["--apiserver", self.url, *args]
        name, identity = _identity(module, args)
        if name not in self._configs:
            self._configs[name] = self.pki.kubeconfig(name, identity)
        return ["--kubeconfig", str(self._configs[name]), *args]

    def daemon_argv(self, module: str, *args: str) -> list[str]:
        """`python -m module` with its credentials and `args`."""
        return [*supervise.python_module(module), *self.daemon_flags(module, *args)]


def start_apiserver(work: Path, etcd: str, logs: Path, *extra: str, name: str = "apiserver",
                    insecure: bool = False) -> Apiserver:
    """An apiserver on a free loopback port, secured as `klite up` runs it unless `insecure`; waited for."""
    port = supervise.free_port()
    argv = [*supervise.python_module("apiserver"), "--etcd-servers", etcd, "--port", str(port), *extra]
    pki: certs.ClusterPKI | None = None
    if insecure:
        url = f"http://127.0.0.1:{port}"
        admin: supervise.Access = url
        argv.append("--insecure")
    else:
        url = f"https://127.0.0.1:{port}"
        pki = certs.ensure(work / f"{name}-home", url)
        cert, key = pki.serving("apiserver")
        admin = kubeconfig.load(pki.kubeconfig("admin", certs.ADMIN))
        argv += ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key), "--client-ca-file",
                 str(pki.ca_file), "--authorization-mode", AUTHORIZATION]
    daemon = supervise.start(name, argv, logs)
    try:
        supervise.wait_http("/readyz", 30, daemon, admin)
    except BaseException:
        supervise.stop(daemon)
        raise
    return Apiserver(url, daemon, pki, admin)
