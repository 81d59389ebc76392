"""Secured apiservers for the test suites, run the way `klite up` runs them: TLS with a serving certificate from
the cluster CA, client certificates verified against that CA, the authorization mode of AUTHORIZATION_MODE, and
every client (the tests' own, each daemon, kubectl, kr8s, the official Python client) presenting the credentials
of its Kubernetes identity.

A TestPKI is one CA under a directory (cli.certs lays it out) with one serving certificate for every apiserver
the suite starts on 127.0.0.1, and one client certificate per identity, issued on first use. `start_apiserver`
starts one apiserver and waits until it serves; the Apiserver it returns hands out clients and kubeconfigs for
it. Daemons get `--kubeconfig` of their own identity (`daemon_argv`): the scheduler is system:kube-scheduler, the
controller-manager system:kube-controller-manager, a kubelet system:node:<its --node-name> in system:nodes, the
proxy and the cluster DNS system:kube-proxy; the tests themselves are kubernetes-admin (system:masters).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cli import certs, supervise
from kube.client import ApiClient, kubeconfig
from kube.client.rest import tls_context

__all__ = ["AUTHORIZATION_MODE", "Apiserver", "TestPKI", "daemon_identity", "start_apiserver"]

#: --authorization-mode of every apiserver the suites start, as `klite up` runs it (the one line to change)
AUTHORIZATION_MODE = "Node,RBAC"

#: the Kubernetes identity each daemon module runs as (a kubelet's comes from its --node-name)
DAEMON_IDENTITIES = {
    "scheduler": certs.COMPONENTS["scheduler"],
    "controllers": certs.COMPONENTS["controller-manager"],
    "proxy": certs.COMPONENTS["proxy"],
    "proxy.dns": certs.COMPONENTS["proxy"],
}


def _flag(args: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in `args` (the last one wins, as argparse takes it)."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(name + "="):
            found = arg.split("=", 1)[1]
    return found


def daemon_identity(module: str, args: Sequence[str]) -> certs.Identity:
    """Who the daemon `module` started with `args` is to the apiserver."""
    if module == "kubelet":
        node = _flag(args, "--node-name")
        if not node:
            raise ValueError("start a kubelet with --node-name: its identity is system:node:<node name>")
        return certs.node_identity(node)
    try:
        return DAEMON_IDENTITIES[module]
    except KeyError:
        raise ValueError(f"no Kubernetes identity known for the daemon {module!r}") from None


def _file_name(identity: certs.Identity) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", identity.user).strip("-")


class TestPKI:
    """One cluster CA under `home`, the serving certificate of the suite's apiservers, and client credentials."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cluster = certs.ensure(home, "https://127.0.0.1")
        self.cert_file, self.key_file = self.cluster.serving("apiserver")
        self._issued: dict[certs.Identity, tuple[str, str]] = {}
        self._contexts: dict[certs.Identity, ssl.SSLContext] = {}
        self._configs: dict[tuple[str, certs.Identity, str | None, bool], Path] = {}

    @property
    def ca_file(self) -> str:
        return str(self.cluster.ca_file)

    def apiserver_flags(self) -> list[str]:
        """What makes an apiserver serve as a user's does: TLS, client certificates, the authorization mode."""
        kubelet_cert, kubelet_key = self.client_cert(certs.KUBELET_CLIENT)
        return ["--tls-cert-file", str(self.cert_file), "--tls-private-key-file", str(self.key_file),
                "--client-ca-file", self.ca_file, "--authorization-mode", AUTHORIZATION_MODE,
                "--kubelet-client-certificate", kubelet_cert, "--kubelet-client-key", kubelet_key]

    def client_cert(self, identity: certs.Identity = certs.ADMIN) -> tuple[str, str]:
        """The client certificate and key of `identity` (issued once)."""
        if identity not in self._issued:
            cert, key = self.cluster.client(f"client-{_file_name(identity)}", identity)
            self._issued[identity] = (str(cert), str(key))
        return self._issued[identity]

    def credentials(self, server: str, identity: certs.Identity = certs.ADMIN) -> kubeconfig.ClusterCredentials:
        return kubeconfig.ClusterCredentials(server=server, verify=self.ca_file, cert=self.client_cert(identity))

    def ssl_context(self, identity: certs.Identity | None = certs.ADMIN) -> ssl.SSLContext:
        """A client context trusting the CA and presenting `identity`'s certificate (None: no certificate)."""
        if identity is None:
            return tls_context(self.ca_file)
        if identity not in self._contexts:
            self._contexts[identity] = tls_context(self.ca_file, self.client_cert(identity))
        return self._contexts[identity]

    def kubeconfig(self, server: str, identity: certs.Identity = certs.ADMIN, *, path: Path | None = None,
                   context: str | None = None, embed: bool = False) -> Path:
        """A kubeconfig with one context for `identity` at `server`: the CA and the client certificate by path,
        or with `embed` copied in (`...-data`, as kubeadm's admin.conf: what kr8s and kubectl take anywhere).
        Written once: a daemon still reading it never sees it rewritten."""
        key = (server, identity, str(path) if path else context, embed)
        if key not in self._configs:
            port = server.rsplit(":", 1)[-1]
            name = context or f"{_file_name(identity)}-{port}{'-embedded' if embed else ''}"
            target = path or self.home / "kubeconfigs" / f"{name}.conf"
            target.unlink(missing_ok=True)
            cert, key_file = self.client_cert(identity)
            self._configs[key] = kubeconfig.merge_context(name, server, path=target, ca_file=self.ca_file,
                                                          client_certificate=cert, client_key=key_file, embed=embed)
        return self._configs[key]

    def http(self, server: str = "", identity: certs.Identity | None = certs.ADMIN, timeout: float = 30.0,
             **kwargs: Any) -> httpx.Client:
        """An httpx client for raw requests as `identity` (None: anonymous, over TLS); without `server`, for full
        URLs of any apiserver of this PKI."""
        return httpx.Client(base_url=server, verify=self.ssl_context(identity), timeout=timeout, **kwargs)

    def async_http(self, server: str = "", identity: certs.Identity | None = certs.ADMIN, timeout: float = 30.0,
                   **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=server, verify=self.ssl_context(identity), timeout=timeout, **kwargs)

    def api(self, server: str, identity: certs.Identity = certs.ADMIN, **kwargs: Any) -> ApiClient:
        """The project's client as `identity`."""
        return ApiClient(server, verify=self.ca_file, cert=self.client_cert(identity), **kwargs)

    def daemon_argv(self, server: str, module: str, *args: str) -> list[str]:
        """`python -m module --kubeconfig <its identity's kubeconfig for server> args...`; a kubelet serves HTTPS
        and takes the apiserver's client certificate, as users run it."""
        config = self.kubeconfig(server, daemon_identity(module, args))
        serving = ["--client-ca-file", self.ca_file] if module == "kubelet" else []
        return [*supervise.python_module(module), "--kubeconfig", str(config), *serving, *args]


@dataclass
class Apiserver:
    """One running apiserver of a TestPKI."""

    url: str
    daemon: supervise.Daemon
    pki: TestPKI

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def credentials(self, identity: certs.Identity = certs.ADMIN) -> kubeconfig.ClusterCredentials:
        return self.pki.credentials(self.url, identity)

    def kubeconfig(self, identity: certs.Identity = certs.ADMIN, **kwargs: Any) -> Path:
        return self.pki.kubeconfig(self.url, identity, **kwargs)

    def http(self, identity: certs.Identity | None = certs.ADMIN, **kwargs: Any) -> httpx.Client:
        return self.pki.http(self.url, identity, **kwargs)

    def async_http(self, identity: certs.Identity | None = certs.ADMIN, **kwargs: Any) -> httpx.AsyncClient:
        return self.pki.async_http(self.url, identity, **kwargs)

    def api(self, identity: certs.Identity = certs.ADMIN, **kwargs: Any) -> ApiClient:
        return self.pki.api(self.url, identity, **kwargs)

    def daemon_argv(self, module: str, *args: str) -> list[str]:
        return self.pki.daemon_argv(self.url, module, *args)

    def stop(self) -> None:
        supervise.stop(self.daemon)


def start_apiserver(pki: TestPKI, etcd: str, logs: Path, name: str = "apiserver", extra: Sequence[str] = (),
                    port: int | None = None, timeout: float = 30.0) -> Apiserver:
    """Start a secured apiserver on 127.0.0.1 (a free port unless `port`) and wait until /readyz answers the
    admin; stopped again if it does not come up."""
    port = port or supervise.free_port()
    daemon = supervise.start(name, [*supervise.python_module("apiserver"), "--etcd-servers", etcd,
                                    "--port", str(port), *pki.apiserver_flags(), *extra], logs)
    apiserver = Apiserver(f"https://127.0.0.1:{port}", daemon, pki)
    try:
        supervise.wait_http("/readyz", timeout, daemon, apiserver.credentials())
    except BaseException:
        supervise.stop(daemon)
        raise
    return apiserver
