"""Cluster DNS records (A for ClusterIP and headless, SRV, hostnames, pod names, PTR, CNAME for ExternalName,
NXDOMAIN vs empty answers) and the server's handling of queries: answered locally, forwarded to an upstream,
SERVFAIL when no upstream answers or before the caches are synced."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from proxy.dns import ClusterDNS, _host_port, upstream_servers
from proxy.dnszone import Zone

Obj = dict[str, Any]

SERVICES: dict[str, Obj] = {
    "default/web": {"metadata": {"name": "web", "namespace": "default"},
                    "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
    "default/db": {"metadata": {"name": "db", "namespace": "default"},
                   "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}},
    "default/ext": {"metadata": {"name": "ext", "namespace": "default"},
                    "spec": {"type": "ExternalName", "externalName": "example.org"}},
}
ENDPOINTS: dict[str, Obj] = {
    "default/db": {"metadata": {"name": "db", "namespace": "default"}, "subsets": [{
        "addresses": [{"ip": "172.17.0.5", "hostname": "db-0"}, {"ip": "172.17.0.6"}],
        "notReadyAddresses": [{"ip": "172.17.0.7"}],
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]},
}
ZONE = Zone("cluster.local")


def ask(name: str, rdtype: str = "A") -> tuple[int, list[str]]:
    answer = ZONE.answer(dns.name.from_text(name), dns.rdatatype.from_text(rdtype), SERVICES.get, ENDPOINTS.get,
                         service_by_ip=lambda ip: next((s for s in SERVICES.values()
                                                        if s["spec"].get("clusterIP") == ip), None),
                         namespaces=lambda: ["default", "kube-system"])
    assert answer is not None
    return answer.rcode, sorted(r.to_text() for rrset in answer.answer for r in rrset)


@pytest.mark.parametrize(("name", "rdtype", "expected"), [
    ("web.default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["10.96.0.20"])),
    ("WEB.Default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["10.96.0.20"])),
    ("web.default.svc.cluster.local", "AAAA", (dns.rcode.NOERROR, [])),
    ("db.default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["172.17.0.5", "172.17.0.6"])),
    ("db-0.db.default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["172.17.0.5"])),
    ("172-17-0-6.db.default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["172.17.0.6"])),
    ("db-9.db.default.svc.cluster.local", "A", (dns.rcode.NXDOMAIN, [])),
    ("_http._tcp.web.default.svc.cluster.local", "SRV",
     (dns.rcode.NOERROR, ["0 100 80 web.default.svc.cluster.local."])),
    ("_pg._tcp.db.default.svc.cluster.local", "SRV",
     (dns.rcode.NOERROR, ["0 100 5432 172-17-0-6.db.default.svc.cluster.local.",
                          "0 100 5432 db-0.db.default.svc.cluster.local."])),
    ("_nope._tcp.web.default.svc.cluster.local", "SRV", (dns.rcode.NXDOMAIN, [])),
    ("ext.default.svc.cluster.local", "A", (dns.rcode.NOERROR, ["example.org."])),
    ("nothere.default.svc.cluster.local", "A", (dns.rcode.NXDOMAIN, [])),
    ("default.svc.cluster.local", "A", (dns.rcode.NOERROR, [])),
    ("nons.svc.cluster.local", "A", (dns.rcode.NXDOMAIN, [])),
    ("172-17-0-9.default.pod.cluster.local", "A", (dns.rcode.NOERROR, ["172.17.0.9"])),
    ("20.0.96.10.in-addr.arpa", "PTR", (dns.rcode.NOERROR, ["web.default.svc.cluster.local."])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_records(name: str, rdtype: str, expected: tuple[int, list[str]]) -> None:
    assert ask(name, rdtype) == expected


def test_names_elsewhere_are_not_ours() -> None:
    assert ZONE.answer(dns.name.from_text("example.org"), dns.rdatatype.A, SERVICES.get, ENDPOINTS.get) is None
    assert ZONE.answer(dns.name.from_text("1.0.0.10.in-addr.arpa"), dns.rdatatype.PTR, SERVICES.get, ENDPOINTS.get,
                       service_by_ip=lambda ip: None) is None


def test_negative_answers_carry_the_soa() -> None:
    answer = ZONE.answer(dns.name.from_text("nothere.default.svc.cluster.local"), dns.rdatatype.A, SERVICES.get,
                         ENDPOINTS.get)
    assert answer is not None and answer.authority[0].rdtype == dns.rdatatype.SOA


def test_upstreams_from_resolv_conf(tmp_path: Any) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n nameserver 172.17.0.1\n")
    assert upstream_servers(str(conf), exclude={"172.17.0.1"}) == ["10.0.0.2"]
    assert upstream_servers(str(tmp_path / "missing")) == []
    assert _host_port("10.0.0.2:5353") == ("10.0.0.2", 5353) and _host_port("10.0.0.2") == ("10.0.0.2", 53)


class _Upstream(asyncio.DatagramProtocol):
    """A stand-in for the host's resolver on loopback: answers everything with 192.0.2.123."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.123"))
        self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]


def server(upstreams: list[str]) -> ClusterDNS:
    dns_server = ClusterDNS(None, ZONE, upstreams, timeout=0.5)  # type: ignore[arg-type]
    for informer, data in ((dns_server.services, SERVICES), (dns_server.endpoints, ENDPOINTS)):
        for key, obj in data.items():
            informer._put(key, obj)
    dns_server.namespaces._put("default", {"metadata": {"name": "default", "resourceVersion": "1"}})
    return dns_server


async def resolve(dns_server: ClusterDNS, name: str) -> dns.message.Message:
    wire = await dns_server.resolve(dns.message.make_query(name, "A").to_wire())
    assert wire is not None
    return dns.message.from_wire(wire)


async def test_server_answers_forwards_and_fails_gracefully() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Upstream, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        dns_server = server([f"127.0.0.1:{port}"])
        reply = await resolve(dns_server, "web.default.svc.cluster.local")
        assert reply.rcode() == dns.rcode.SERVFAIL  # not synced yet: no made-up NXDOMAIN
        dns_server.synced.set()
        reply = await resolve(dns_server, "web.default.svc.cluster.local")
        assert reply.answer[0][0].to_text() == "10.96.0.20" and reply.flags & dns.flags.AA
        reply = await resolve(dns_server, "example.org")
        assert reply.answer[0][0].to_text() == "192.0.2.123"
        dead = server(["127.0.0.1:1"])
        dead.synced.set()
        assert (await resolve(dead, "example.org")).rcode() == dns.rcode.SERVFAIL
        assert await dns_server.resolve(b"junk") is None
    finally:
        transport.close()


def test_a_restarted_dns_replaces_its_old_endpoints_entry() -> None:
    from proxy.dns import _without

    subsets = [{"addresses": [{"ip": "172.17.0.1"}], "ports": [{"name": "dns", "port": 40001}]},
               {"addresses": [{"ip": "172.18.0.1"}], "ports": [{"name": "dns", "port": 53}]}]
    assert _without(subsets, "172.17.0.1", None) == subsets[1:]  # an earlier run of ours, any port
    assert _without(subsets, "172.17.0.1", 53) == subsets
