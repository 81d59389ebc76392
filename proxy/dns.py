"""`python -m proxy.dns`: the cluster DNS server, answering `proxy.dnszone` records and forwarding the rest.

Where pods reach it, as Kubernetes does: a `kube-dns` Service in kube-system with a fixed ClusterIP (the 10th
address of the service range unless --cluster-dns-ip says otherwise) on port 53 UDP and TCP. This daemon
listens on the pods' bridge gateway (docker0's address; any free port with --port 0) and writes itself into the
`kube-dns` Endpoints, so every node's proxy forwards ClusterIP:53 to it. The kubelet points each pod's
resolv.conf at that ClusterIP. Names outside the cluster domain go to the host's resolvers (/etc/resolv.conf);
when none answers the client gets SERVFAIL, never a hang.

Built on dnspython (a well-kept DNS toolkit: wire format, names, records, async queries to upstreams).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import signal
import socket
import struct
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import uvloop

from kube import errors, log
from kube.client import ApiClient
from kube.informer import Informer
from kube.resources import ENDPOINTS, NAMESPACES, SERVICES
from proxy.dnszone import Zone
from proxy.health import serve_health
from proxy.hostnet import CommandError, run_command

__all__ = ["ClusterDNS", "main", "parse_args", "upstream_servers"]

logger = logging.getLogger("proxy.dns")

Obj = dict[str, Any]

DNS_SERVICE = ("kube-system", "kube-dns")


def upstream_servers(resolv_conf: str = "/etc/resolv.conf", exclude: set[str] | None = None) -> list[str]:
    """The host's nameservers, without ours (a loop) and without IPv6 link-local ones."""
    try:
        text = Path(resolv_conf).read_text()
    except OSError:
        return []
    found = re.findall(r"^\s*nameserver\s+(\S+)", text, re.MULTILINE)
    return [s for s in found if s not in (exclude or set()) and "%" not in s]


class ClusterDNS:
    def __init__(self, client: ApiClient, zone: Zone, upstreams: list[str], timeout: float = 2.0) -> None:
        self.client = client
        self.zone = zone
        self.upstreams = upstreams
        self.timeout = timeout
        self.services = Informer(client, SERVICES)
        self.endpoints = Informer(client, ENDPOINTS)
        self.namespaces = Informer(client, NAMESPACES)
        self.services.add_indexer("clusterIP", lambda s: [ip] if (ip := (s.get("spec") or {}).get("clusterIP"))
                                  and ip != "None" else [])
        self.stats: dict[str, float] = {"queries": 0, "forwarded": 0, "servfail": 0, "nxdomain": 0}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.synced = asyncio.Event()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for informer in (self.services, self.endpoints, self.namespaces):
                group.create_task(informer.run())
            for informer in (self.services, self.endpoints, self.namespaces):
                await informer.synced.wait()
            self.synced.set()
            logger.info("caches synced: answering for %s", self.zone.domain.to_text())

    # ------------------------------------------------------------------ answering

    async def resolve(self, wire: bytes, tcp: bool = False) -> bytes | None:
        """The reply to one query in wire format (None: not even a query)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        self.stats["queries"] += 1
        if not query.question:
            return _reply(query, dns.rcode.FORMERR).to_wire()
        question = query.question[0]
        if not self.synced.is_set():  # no cache yet: cluster names cannot be answered truthfully
            if self.zone.is_ours(question.name):
                return _reply(query, dns.rcode.SERVFAIL).to_wire()
            return await self.forward(query, wire, tcp)
        local = self.zone.answer(
            question.name, question.rdtype, self.services.get, self.endpoints.get,
            service_by_ip=lambda ip: next(iter(self.services.by_index("clusterIP", ip)), None),
            namespaces=self.namespaces.keys)
        if local is not None:
            reply = _reply(query, local.rcode)
            reply.answer, reply.authority = local.answer, local.authority
            reply.flags |= dns.flags.AA if local.authoritative else 0
            if local.rcode == dns.rcode.NXDOMAIN:
                self.stats["nxdomain"] += 1
            return _fit(reply, query, tcp)
        return await self.forward(query, wire, tcp)

    async def forward(self, query: dns.message.Message, wire: bytes, tcp: bool) -> bytes:
        self.stats["forwarded"] += 1
        for upstream in self.upstreams:
            server, port = _host_port(upstream)
            try:
                if tcp:
                    answer = await dns.asyncquery.tcp(query, server, port=port, timeout=self.timeout)
                else:
                    answer, _ = await dns.asyncquery.udp_with_fallback(query, server, port=port,
                                                                       timeout=self.timeout)
                return answer.to_wire(max_size=65535 if tcp else max(512, query.payload))
            except (dns.exception.DNSException, OSError, ValueError) as exc:
                logger.debug("upstream %s: %s", server, exc)
        self.stats["servfail"] += 1
        return _reply(query, dns.rcode.SERVFAIL).to_wire()

    # ------------------------------------------------------------------ serving

    async def serve(self, host: str, port: int) -> tuple[asyncio.DatagramTransport, asyncio.AbstractServer, int]:
        """UDP and TCP on the same port (port 0: a free one for both)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp, _proto = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))
            chosen = udp.get_extra_info("sockname")[1]
            try:
                tcp = await loop.create_server(lambda: _Tcp(self), host, chosen, reuse_address=True)
                return udp, tcp, chosen
            except OSError:
                udp.close()
                if port:
                    raise
        raise OSError(f"no port free for both UDP and TCP on {host}")

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _host_port(upstream: str) -> tuple[str, int]:
    """`10.0.0.2`, `10.0.0.2:5353` or `[fd00::1]:53` -> (host, port)."""
    if upstream.startswith("["):
        host, _, rest = upstream[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if upstream.count(":") == 1:
        host, port = upstream.split(":")
        return host, int(port)
    return upstream, 53


def _reply(query: dns.message.Message, rcode: int) -> dns.message.Message:
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    reply.flags |= dns.flags.RA
    return reply


def _fit(reply: dns.message.Message, query: dns.message.Message, tcp: bool) -> bytes:
    limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
    try:
        return reply.to_wire(max_size=limit)
    except dns.exception.TooBig:
        reply.answer = []
        reply.flags |= dns.flags.TC  # the client asks again over TCP
        return reply.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.resolve(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            (size,) = struct.unpack("!H", self.buffer[:2])
            if len(self.buffer) < 2 + size:
                break
            message, self.buffer = self.buffer[2:2 + size], self.buffer[2 + size:]
            self.server.spawn(self._answer(message))

    async def _answer(self, data: bytes) -> None:
        reply = await self.server.resolve(data, tcp=True)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.write(struct.pack("!H", len(reply)) + reply)


# ---------------------------------------------------------------------------- kube-dns Service and Endpoints


async def register(client: ApiClient, cluster_ip: str, address: str, port: int, node: str) -> str:
    """Ensure the kube-dns Service (ClusterIP `cluster_ip`, 53 UDP+TCP) and our address in its Endpoints;
    the Service's actual ClusterIP (an existing Service keeps its own)."""
    ns, name = DNS_SERVICE
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "kubelite-dns"}
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"clusterIP": cluster_ip, "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port}]}}
    try:
        svc = await client.create(SERVICES, body, ns)
    except errors.AlreadyExists:
        svc = await client.get(SERVICES, name, ns)
    actual = svc["spec"].get("clusterIP", "")
    if actual != cluster_ip:
        logger.warning("kube-dns already has ClusterIP %s (not %s): pods must use %s", actual, cluster_ip, actual)
    # any entry for our address is an earlier run of ours (perhaps on another port, perhaps killed): replace it
    await _update_endpoints(client, lambda subsets: [*_without(subsets, address, None), {
        "addresses": [{"ip": address, "nodeName": node}],
        "ports": [{"name": "dns", "port": port, "protocol": "UDP"}, {"name": "dns-tcp", "port": port,
                                                                      "protocol": "TCP"}]}])
    return actual


async def unregister(client: ApiClient, address: str, port: int) -> None:
    await _update_endpoints(client, lambda subsets: _without(subsets, address, port))


def _without(subsets: list[Obj], address: str, port: int | None) -> list[Obj]:
    """`subsets` less the ones serving `address` (on `port`, or on any port when None)."""
    return [s for s in subsets if not (any(a.get("ip") == address for a in s.get("addresses") or [])
                                       and (port is None or any(p.get("port") == port for p in s.get("ports") or [])))]


async def _update_endpoints(client: ApiClient, change: Any) -> None:
    ns, name = DNS_SERVICE
    for _ in range(10):
        try:
            current = await client.get(ENDPOINTS, name, ns)
        except errors.NotFound:
            subsets = change([])
            body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns,
                                                                           "labels": {"k8s-app": "kube-dns"}}}
            if subsets:
                body["subsets"] = subsets
            try:
                await client.create(ENDPOINTS, body, ns)
                return
            except errors.AlreadyExists:
                continue
        subsets = change(current.get("subsets") or [])
        updated = {**current, "subsets": subsets}
        if not subsets:
            updated.pop("subsets")
        try:
            await client.replace(ENDPOINTS, updated)
            return
        except errors.Conflict:
            continue


async def bridge_address(bridge: str) -> str | None:
    try:
        out = await run_command(["ip", "-4", "-o", "addr", "show", "dev", bridge])
    except CommandError:
        return None
    found = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return found.group(1) if found else None


# ---------------------------------------------------------------------------- daemon


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubelite-dns", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apiserver", default=os.environ.get("KUBELITE_APISERVER", "http://127.0.0.1:6443"))
    p.add_argument("--kubeconfig", help="use the server and credentials of this kubeconfig")
    p.add_argument("--node-name", default=os.environ.get("KUBELITE_NODE_NAME") or socket.gethostname().lower())
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/16",
                   help="the apiserver's service range; the DNS ClusterIP defaults to its 10th address")
    p.add_argument("--cluster-dns-ip", help="the kube-dns Service's ClusterIP (what the kubelet's --cluster-dns is)")
    p.add_argument("--bind-address", default="auto",
                   help="where to listen: 'auto' is the pods' bridge gateway (--pod-bridge), which pods reach")
    p.add_argument("--pod-bridge", default="docker0")
    p.add_argument("--port", type=int, default=53, help="0: any free port (the kube-dns Endpoints name it)")
    p.add_argument("--upstream", action="append", default=None,
                   help="HOST[:PORT] for names outside the cluster domain (repeatable; default: /etc/resolv.conf)")
    p.add_argument("--no-register", action="store_true", help="do not write the kube-dns Service and Endpoints")
    p.add_argument("--ttl", type=int, default=5)
    p.add_argument("--healthz-bind-address", default="127.0.0.1:8081", help="HOST:PORT (port 0: off)")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    args = p.parse_args(argv)
    if args.cluster_dns_ip is None:
        args.cluster_dns_ip = str(ipaddress.IPv4Network(args.service_cluster_ip_range, strict=False)[10])
    return args


async def run(args: argparse.Namespace) -> None:
    address = args.bind_address
    if address == "auto":
        address = await bridge_address(args.pod_bridge) or "127.0.0.1"
        if address == "127.0.0.1":
            logger.warning("no address on %s: listening on 127.0.0.1, which pods cannot reach", args.pod_bridge)
    upstreams = args.upstream or upstream_servers(exclude={address})
    if not upstreams:
        logger.warning("no upstream resolver: names outside %s get SERVFAIL", args.cluster_domain)
    if args.kubeconfig:
        client, _ = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kubelite-dns")
    else:
        client = ApiClient(args.apiserver, user_agent="kubelite-dns")
    server = ClusterDNS(client, Zone(args.cluster_domain, args.ttl), upstreams)
    udp, tcp, port = await server.serve(address, args.port)
    health = await serve_health(args.healthz_bind_address, server.synced.is_set, lambda: server.stats,
                                "kubelite_dns")
    logger.info("serving DNS on %s:%d (UDP+TCP) for %s; upstream %s", address, port, args.cluster_domain,
                ", ".join(upstreams) or "none")
    task = asyncio.create_task(server.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    registered = False
    try:
        if not args.no_register:
            for delay in (0.2, 0.5, 1, 2, 4, 8, 8, 8):
                try:
                    ip = await register(client, args.cluster_dns_ip, address, port, args.node_name)
                    registered = True
                    logger.info("kube-dns Service at %s:53 -> %s:%d", ip, address, port)
                    break
                except errors.ApiError as exc:
                    logger.warning("could not register kube-dns (%s); retrying", exc)
                    await asyncio.sleep(delay)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if registered:
            with contextlib.suppress(errors.ApiError, TimeoutError):
                await asyncio.wait_for(unregister(client, address, port), 5)
        udp.close()
        tcp.close()
        if health is not None:
            health.close()
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("dns", args.log_level)
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
