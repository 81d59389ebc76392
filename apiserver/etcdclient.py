"""The apiserver's etcd client: several endpoints and TLS with a client certificate, as kube-apiserver's
--etcd-servers, --etcd-cafile, --etcd-certfile and --etcd-keyfile give.

aetcd opens one plaintext channel to one host. gRPC itself does the rest: a target listing every endpoint's
address (`ipv4:a:p,b:p`) fails over between them, and `secure_channel` speaks TLS. This client lets aetcd build
its stubs, then moves them onto such a channel before anything is sent (gRPC channels connect lazily).
Several endpoints are checked against the first one's name (one authority per channel): their certificates must
all carry it, as a lab's shared etcd serving certificate does.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import aetcd
import grpc
from aetcd import rpc, watcher

__all__ = ["EtcdClient", "EtcdTLS", "parse_endpoints"]


@dataclass(frozen=True)
class EtcdTLS:
    ca_file: Path | None = None  # None: the system's roots
    cert_file: Path | None = None
    key_file: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None
        return grpc.ssl_channel_credentials(read(self.ca_file), read(self.key_file), read(self.cert_file))


def parse_endpoints(servers: str) -> tuple[list[tuple[str, int]], bool]:
    """`--etcd-servers` (comma-separated URLs) → [(host, port)] and whether they are https; mixing is an error."""
    urls = [urlparse(s if "://" in s else f"http://{s}") for s in (x.strip() for x in servers.split(",")) if s]
    if not urls:
        raise ValueError("--etcd-servers: no endpoint given")
    schemes = {u.scheme for u in urls}
    if not schemes <= {"http", "https"} or len(schemes) > 1:
        raise ValueError(f"--etcd-servers: every endpoint must be http:// or every one https://, got {servers!r}")
    return [(u.hostname or "127.0.0.1", u.port or 2379) for u in urls], schemes == {"https"}


class EtcdClient(aetcd.Client):
    """An aetcd client over every endpoint, plaintext or TLS."""

    def __init__(self, endpoints: Sequence[tuple[str, int]], tls: EtcdTLS | None = None,
                 timeout: float | None = None) -> None:
        host, port = endpoints[0]
        super().__init__(host=host, port=port, timeout=timeout)  # type: ignore[arg-type]
        self._endpoints = list(endpoints)
        self._tls = tls

    def _target(self) -> tuple[str, list[tuple[str, str | int]]]:
        """The gRPC target and options: one name as it is (its certificate names it), several as addresses
        under the first name's authority."""
        options: list[tuple[str, str | int]] = list(self._options.items())
        if len(self._endpoints) == 1:
            host, port = self._endpoints[0]
            return f"{host}:{port}", options
        addresses = [f"{_ipv4(host)}:{port}" for host, port in self._endpoints]
        options.append(("grpc.default_authority", self._endpoints[0][0]))
        if self._tls is not None:
            options.append(("grpc.ssl_target_name_override", self._endpoints[0][0]))
        return "ipv4:" + ",".join(addresses), options

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        await super().connect()
        if self._tls is None and len(self._endpoints) == 1:
            return
        # Still before the first request: swap the channel under aetcd's stubs, without yielding in between.
        plain = self.channel
        target, options = self._target()
        if self._tls is not None:
            self.channel = rpc.secure_channel(target, self._tls.credentials(), options=options)
        else:
            self.channel = rpc.insecure_channel(target, options=options)
        self.kvstub = rpc.KVStub(self.channel)
        self.clusterstub = rpc.ClusterStub(self.channel)
        self.leasestub = rpc.LeaseStub(self.channel)
        self.maintenancestub = rpc.MaintenanceStub(self.channel)
        self._watcher = watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata)
        await plain.close()


def _ipv4(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError as exc:
        raise ValueError(f"etcd endpoint {host!r}: {exc}") from None
