"""The cluster's DNS records, computed from Services and Endpoints, as Kubernetes' DNS specification has them.

    NAME.NS.svc.DOMAIN                   A      the ClusterIP; for a headless Service each ready endpoint
                                         CNAME  an ExternalName Service's externalName
    _PORT._PROTO.NAME.NS.svc.DOMAIN      SRV    per named port: NAME.NS.svc (headless: each endpoint's name)
    HOSTNAME.NAME.NS.svc.DOMAIN          A      an endpoint with a hostname (a pod with hostname + subdomain)
    A-B-C-D.NAME.NS.svc.DOMAIN           A      a headless endpoint without a hostname
    A-B-C-D.NS.pod.DOMAIN                A      any pod address (CoreDNS' "pods insecure")
    D.C.B.A.in-addr.arpa                 PTR    a ClusterIP back to its Service name

Names under DOMAIN that do not exist get NXDOMAIN; names that exist but lack the asked type get an empty
answer (so a resolver asking A and AAAA at once is not told the name is missing). Pure: `Zone.answer` takes
a question and lookups, so it is tested without a socket; `proxy.dns` serves it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["Answer", "Zone"]

Obj = dict[str, Any]
Lookup = Callable[[str], Obj | None]  # "namespace/name" -> object or None


@dataclass
class Answer:
    rcode: int = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    authoritative: bool = True


def _dashed(ip: str) -> str:
    return ip.replace(".", "-")


def _undashed(label: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(label.replace("-", ".")))
    except ValueError:
        return None


class Zone:
    def __init__(self, domain: str = "cluster.local", ttl: int = 5) -> None:
        self.domain = dns.name.from_text(domain)
        self.ttl = ttl
        self.reverse = dns.name.from_text("in-addr.arpa")

    def is_ours(self, qname: dns.name.Name) -> bool:
        return qname.is_subdomain(self.domain)

    def answer(self, qname: dns.name.Name, qtype: int, services: Lookup, endpoints: Lookup,
               service_by_ip: Callable[[str], Obj | None] | None = None,
               namespaces: Callable[[], Iterable[str]] | None = None) -> Answer | None:
        """The answer for a name under our domain (or a ClusterIP's PTR); None: not ours, forward it."""
        if qname.is_subdomain(self.reverse):
            return self._ptr(qname, qtype, service_by_ip)
        if not self.is_ours(qname):
            return None
        labels = [label.decode().lower() for label in qname.relativize(self.domain).labels]
        out = Answer()
        found = self._lookup(qname, labels, qtype, services, endpoints, namespaces, out)
        if not found:
            out.rcode = dns.rcode.NXDOMAIN
        if not out.answer:
            out.authority.append(self._soa())
        return out

    # ------------------------------------------------------------------ lookups

    def _lookup(self, qname: dns.name.Name, labels: list[str], qtype: int, services: Lookup, endpoints: Lookup,
                namespaces: Callable[[], Iterable[str]] | None, out: Answer) -> bool:
        """Fill `out.answer`; whether the name exists."""
        if not labels or labels == ["svc"] or labels == ["pod"]:
            return True  # the domain and its fixed subtrees exist
        if len(labels) == 2 and labels[1] in ("svc", "pod"):
            return namespaces is None or labels[0] in set(namespaces())
        if len(labels) == 3 and labels[2] == "pod":
            ip = _undashed(labels[0])
            if ip is None:
                return False
            self._add(out, qname, qtype, dns.rdatatype.A, [ip])
            return True
        if len(labels) < 3 or labels[-1] != "svc":
            return False
        ns, name = labels[-2], labels[-3]
        svc = services(f"{ns}/{name}")
        if svc is None:
            return False
        spec = svc.get("spec") or {}
        headless = spec.get("clusterIP") == "None"
        prefix = labels[:-3]
        if not prefix:
            if spec.get("type") == "ExternalName":
                target = dns.name.from_text(spec.get("externalName") or "")
                self._add(out, qname, qtype, dns.rdatatype.CNAME, [target.to_text()], always=True)
            elif headless:
                self._add(out, qname, qtype, dns.rdatatype.A, [a["ip"] for a in self._addresses(svc, endpoints)])
            elif spec.get("clusterIP"):
                self._add(out, qname, qtype, dns.rdatatype.A, [spec["clusterIP"]])
            return True
        if len(prefix) == 2 and prefix[0].startswith("_") and prefix[1].startswith("_"):
            return self._srv(qname, prefix[0][1:], prefix[1][1:], svc, endpoints, qtype, out)
        if len(prefix) == 1 and headless:
            ips = [a["ip"] for a in self._addresses(svc, endpoints)
                   if a.get("hostname") == prefix[0] or (not a.get("hostname") and _dashed(a["ip"]) == prefix[0])]
            if ips:
                self._add(out, qname, qtype, dns.rdatatype.A, ips)
                return True
        return False

    def _srv(self, qname: dns.name.Name, port_name: str, proto: str, svc: Obj, endpoints: Lookup, qtype: int,
             out: Answer) -> bool:
        spec, meta = svc.get("spec") or {}, svc["metadata"]
        port = next((p for p in spec.get("ports") or [] if p.get("name") == port_name
                     and (p.get("protocol") or "TCP").lower() == proto), None)
        if port is None:
            return False
        base = f"{meta['name']}.{meta['namespace']}.svc.{self.domain.to_text()}"
        if spec.get("clusterIP") != "None":
            self._add(out, qname, qtype, dns.rdatatype.SRV, [f"0 100 {port['port']} {base}"])
            return True
        records = []
        for address in self._addresses(svc, endpoints, port_name=port_name):
            host = address.get("hostname") or _dashed(address["ip"])
            records.append(f"0 100 {address['port']} {host}.{base}")
        self._add(out, qname, qtype, dns.rdatatype.SRV, records)
        return True

    def _ptr(self, qname: dns.name.Name, qtype: int, service_by_ip: Callable[[str], Obj | None] | None
             ) -> Answer | None:
        labels = [label.decode() for label in qname.relativize(self.reverse).labels]
        if service_by_ip is None or len(labels) != 4:
            return None
        svc = service_by_ip(".".join(reversed(labels)))
        if svc is None:
            return None  # not a ClusterIP: the host's resolver may know it
        meta = svc["metadata"]
        out = Answer()
        target = f"{meta['name']}.{meta['namespace']}.svc.{self.domain.to_text()}"
        self._add(out, qname, qtype, dns.rdatatype.PTR, [target])
        return out

    @staticmethod
    def _addresses(svc: Obj, endpoints: Lookup, port_name: str | None = None) -> list[Obj]:
        """Endpoint addresses (ready ones; not-ready too when the Service publishes them), each with the
        port named `port_name` when given."""
        meta, spec = svc["metadata"], svc.get("spec") or {}
        groups = ["addresses", "notReadyAddresses"] if spec.get("publishNotReadyAddresses") else ["addresses"]
        seen: dict[tuple[str, int], Obj] = {}
        for subset in (endpoints(f"{meta['namespace']}/{meta['name']}") or {}).get("subsets") or []:
            ports = subset.get("ports") or []
            port = next((p for p in ports if (p.get("name") or "") == port_name), None) if port_name else None
            if port_name and port is None:
                continue
            for group in groups:
                for address in subset.get(group) or []:
                    entry = {**address, "port": port["port"] if port else 0}
                    seen.setdefault((address["ip"], entry["port"]), entry)
        return sorted(seen.values(), key=lambda a: (a["ip"], a["port"]))

    def _add(self, out: Answer, qname: dns.name.Name, qtype: int, rtype: int, values: list[str],
             always: bool = False) -> None:
        """Answer `values` as `rtype` if that is what was asked (or ANY; a CNAME is always given)."""
        if not values or not (always or qtype in (rtype, dns.rdatatype.ANY)):
            return
        out.answer.append(dns.rrset.from_text_list(qname, self.ttl, dns.rdataclass.IN, rtype, values))

    def _soa(self) -> dns.rrset.RRset:
        d = self.domain.to_text()
        return dns.rrset.from_text(self.domain, self.ttl, dns.rdataclass.IN, dns.rdatatype.SOA,
                                   f"ns.dns.{d} hostmaster.{d} 1 7200 1800 86400 {self.ttl}")
