"""Kernel mode: NAT rules in the proxy's own iptables chains, rewritten in one `iptables-restore` per change.

Chains (prefix `KUBELITE` by default; one proxy per prefix):

    nat    PREROUTING, OUTPUT -> P-SERVICES: ClusterIP:port -> P-SVC-<hash>; last, local addresses -> P-NODEPORTS
           P-NODEPORTS: nodePort -> mark for masquerade, then P-SVC-<hash> (or P-XLB-<hash>, policy Local)
           P-SVC-<hash>: ClientIP affinity (`recent`), then `statistic` random picks, 1/n, 1/(n-1), ... so each
                         of n endpoints gets 1/n -> P-SEP-<hash>
           P-SEP-<hash>: hairpin (a pod reaching itself) marked for masquerade; DNAT to the endpoint
           POSTROUTING -> P-POSTROUTING: MASQUERADE what was marked
    filter INPUT, FORWARD, OUTPUT (new connections) -> P-SERVICES: REJECT a service port without endpoints and
           anything else sent to the service range (it was not DNATed: nothing serves it)
           FORWARD -> P-FORWARD: ACCEPT marked traffic, past Docker's FORWARD policy DROP (NodePort from outside)

`render` is pure (rules from `ServicePort`s); `IptablesBackend.sync` reads which of our chains exist
(`iptables-save`), and sends one payload per table set that declares (flushes) every chain it writes,
deletes our chains no longer wanted, and puts back any missing jump from the built-in chains, so a restarted
proxy replaces everything it finds under its prefix and never duplicates a rule.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from proxy.hostnet import CommandError, HostNetwork, run_command
from proxy.model import Endpoint, Problem, ServicePort

__all__ = ["Config", "IptablesBackend", "Ruleset", "chain_name", "render", "restore_payload", "valid_prefix"]

log = logging.getLogger("proxy.iptables")

Runner = Callable[..., Awaitable[str]]

MAX_CHAIN = 28  # iptables chain names: 28 characters
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,10}$")


def valid_prefix(prefix: str) -> bool:
    """Upper-case letters and digits, at most 11, no dash: a prefix can then never match another's chains."""
    return bool(_PREFIX.match(prefix))


@dataclass(frozen=True)
class Config:
    prefix: str = "KUBELITE"
    service_cidr: str = "10.96.0.0/16"
    node_name: str = ""
    masquerade_bit: int = 14
    bridge: str = "docker0"  # the pods' bridge: hairpin mode on its ports

    @property
    def mark(self) -> str:
        return f"0x{1 << self.masquerade_bit:x}"

    def chain(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"


def chain_name(prefix: str, kind: str, *parts: str) -> str:
    """`PREFIX-KIND-HASH`, the hash (base32 of sha256, as kube-proxy) as long as the name limit allows."""
    digest = base64.b32encode(hashlib.sha256("|".join(parts).encode()).digest()).decode()
    room = min(16, MAX_CHAIN - len(prefix) - len(kind) - 2)
    return f"{prefix}-{kind}-{digest[:room]}"


def _own_chain(config: Config) -> re.Pattern[str]:
    room = min(16, MAX_CHAIN - len(config.prefix) - 5)
    fixed = "SERVICES|NODEPORTS|POSTROUTING|MARK-MASQ|FORWARD"
    return re.compile(rf"^{config.prefix}-(?:{fixed}|(?:SVC|SEP|XLB)-[A-Z2-7]{{{room}}})$")


@dataclass
class Ruleset:
    """Rules per table: the chains we write (in order) and their `-A` lines."""

    chains: dict[str, list[str]] = field(default_factory=lambda: {"nat": [], "filter": []})
    rules: dict[str, list[str]] = field(default_factory=lambda: {"nat": [], "filter": []})

    def add_chain(self, table: str, chain: str) -> None:
        if chain not in self.chains[table]:
            self.chains[table].append(chain)

    def add(self, table: str, rule: str) -> None:
        self.rules[table].append(rule)

    def count(self) -> int:
        return sum(len(r) for r in self.rules.values())


#: (table, built-in chain, match before the jump, our chain kind): the hooks into the kernel's chains
JUMPS = [
    ("nat", "PREROUTING", '-m comment --comment "kubelite service portals"', "SERVICES"),
    ("nat", "OUTPUT", '-m comment --comment "kubelite service portals"', "SERVICES"),
    ("nat", "POSTROUTING", '-m comment --comment "kubelite postrouting rules"', "POSTROUTING"),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubelite service portals"', "SERVICES"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubelite service portals"', "SERVICES"),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubelite service portals"', "SERVICES"),
    ("filter", "FORWARD", '-m comment --comment "kubelite forwarding rules"', "FORWARD"),
]


def _proto(sp: ServicePort) -> str:
    p = sp.protocol.lower()
    return f"-p {p} -m {p}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def render(config: Config, ports: list[ServicePort]) -> tuple[Ruleset, list[Problem]]:
    """The whole ruleset for these service ports, deterministic (same input, same lines)."""
    rs = Ruleset()
    problems: list[Problem] = []
    P, mark = config.prefix, config.mark
    services, nodeports = config.chain("SERVICES"), config.chain("NODEPORTS")
    postrouting, masq = config.chain("POSTROUTING"), config.chain("MARK-MASQ")
    forward = config.chain("FORWARD")
    for chain in (services, nodeports, postrouting, masq):
        rs.add_chain("nat", chain)
    rs.add_chain("filter", services)
    rs.add_chain("filter", forward)
    rs.add("nat", f"-A {masq} -j MARK --or-mark {mark}")
    rs.add("nat", f"-A {postrouting} -m mark ! --mark {mark}/{mark} -j RETURN")
    rs.add("nat", f"-A {postrouting} -j MARK --xor-mark {mark}")
    rs.add("nat", f"-A {postrouting} {_comment('kubelite service traffic requiring SNAT')} -j MASQUERADE")
    rs.add("filter", f"-A {forward} {_comment('kubelite forwarding rules')} -m mark --mark {mark}/{mark} -j ACCEPT")
    seps: dict[Endpoint, str] = {}
    has_node_ports = False
    for sp in ports:
        try:
            ipaddress.IPv4Address(sp.cluster_ip)
            if not (0 < sp.port < 65536) or (sp.node_port is not None and not 0 < sp.node_port < 65536):
                raise ValueError("port out of range")
            for ep in sp.endpoints:
                ipaddress.IPv4Address(ep.ip)
                if not 0 < ep.port < 65536:
                    raise ValueError(f"endpoint port {ep.port} out of range")
        except ValueError as exc:
            problems.append(Problem(sp.namespace, sp.name, "FailedToProgram", f"port {sp.key}: {exc}"))
            continue
        proto = _proto(sp)
        cluster_eps = sp.cluster_endpoints(config.node_name)
        external_eps = sp.external_endpoints(config.node_name)
        svc = chain_name(P, "SVC", sp.key, sp.protocol)
        for ep in set(cluster_eps) | set(external_eps):
            seps.setdefault(ep, "")
        if cluster_eps:
            rs.add_chain("nat", svc)
            rs.add("nat", f"-A {services} {_comment(sp.key + ' cluster IP')} -d {sp.cluster_ip}/32 {proto} "
                          f"--dport {sp.port} -j {svc}")
            _balance(rs, config, svc, sp, cluster_eps)
        else:
            rs.add("filter", f"-A {services} {_comment(sp.key + ' has no endpoints')} -d {sp.cluster_ip}/32 "
                             f"{proto} --dport {sp.port} -j REJECT --reject-with icmp-port-unreachable")
        if sp.node_port is None:
            continue
        has_node_ports = True
        if not external_eps:
            rs.add("filter", f"-A {services} {_comment(sp.key + ' has no endpoints')} -m addrtype --dst-type LOCAL "
                             f"{proto} --dport {sp.node_port} -j REJECT --reject-with icmp-port-unreachable")
        elif sp.external_local:  # no masquerade: the endpoint sees the client's address
            xlb = chain_name(P, "XLB", sp.key, sp.protocol)
            rs.add_chain("nat", xlb)
            rs.add("nat", f"-A {nodeports} {_comment(sp.key)} {proto} --dport {sp.node_port} -j {xlb}")
            _balance(rs, config, xlb, sp, external_eps)
        else:
            rs.add("nat", f"-A {nodeports} {_comment(sp.key)} {proto} --dport {sp.node_port} -j {masq}")
            rs.add("nat", f"-A {nodeports} {_comment(sp.key)} {proto} --dport {sp.node_port} -j {svc}")
            if not cluster_eps:  # the SVC chain was not written above
                rs.add_chain("nat", svc)
                _balance(rs, config, svc, sp, external_eps)
    if has_node_ports:
        rs.add("nat", f"-A {services} {_comment('kubelite service nodeports; must be last')} -m addrtype "
                      f"--dst-type LOCAL -j {nodeports}")
    rs.add("filter", f"-A {services} {_comment('no service serves this address and port')} -d {config.service_cidr} "
                     f"-j REJECT --reject-with icmp-port-unreachable")
    return rs, problems


def _balance(rs: Ruleset, config: Config, chain: str, sp: ServicePort, endpoints: tuple[Endpoint, ...]) -> None:
    """Affinity first (a client seen within the timeout goes back to its endpoint), then random picks with
    probability 1/n, 1/(n-1), ..., 1 over the remaining endpoints: each endpoint gets 1/n."""
    names = [chain_name(config.prefix, "SEP", sp.key, sp.protocol, str(ep)) for ep in endpoints]
    if sp.affinity_seconds:
        for name in names:
            rs.add("nat", f"-A {chain} {_comment(sp.key)} -m recent --name {name} --rcheck "
                          f"--seconds {sp.affinity_seconds} --reap -j {name}")
    n = len(endpoints)
    for i, (ep, name) in enumerate(zip(endpoints, names, strict=True)):
        if i < n - 1:
            rs.add("nat", f"-A {chain} {_comment(f'{sp.key} -> {ep}')} -m statistic --mode random "
                          f"--probability {1 / (n - i):.10f} -j {name}")
        else:
            rs.add("nat", f"-A {chain} {_comment(f'{sp.key} -> {ep}')} -j {name}")
        if name in rs.chains["nat"]:
            continue  # an endpoint's chain is shared by the cluster and the Local nodeport chain
        rs.add_chain("nat", name)
        rs.add("nat", f"-A {name} {_comment(sp.key)} -s {ep.ip}/32 -j {config.chain('MARK-MASQ')}")
        p = sp.protocol.lower()
        recent = f"-m recent --name {name} --set " if sp.affinity_seconds else ""
        rs.add("nat", f"-A {name} {_comment(sp.key)} -p {p} {recent}-m {p} -j DNAT --to-destination {ep}")


@dataclass
class Existing:
    """What `iptables-save` shows of ours: chains per table, and jump rules in built-in chains."""

    chains: dict[str, set[str]] = field(default_factory=lambda: {"nat": set(), "filter": set()})
    jumps: dict[str, list[str]] = field(default_factory=lambda: {"nat": [], "filter": []})
    rules: dict[str, int] = field(default_factory=lambda: {"nat": 0, "filter": 0})


def parse_save(config: Config, text: str) -> Existing:
    own = _own_chain(config)
    found = Existing()
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if table not in found.chains:
            continue
        if line.startswith(":"):
            name = line[1:].split()[0]
            if own.match(name):
                found.chains[table].add(name)
        elif line.startswith("-A "):
            chain = line.split()[1]
            target = line.rsplit(" -j ", 1)[-1].split()[0] if " -j " in line else ""
            if own.match(chain):
                found.rules[table] += 1
            elif own.match(target):
                found.jumps[table].append(line)
    return found


def _jump_rule(config: Config, builtin: str, match: str, kind: str) -> str:
    return f"{builtin} {match} -j {config.chain(kind)}"


def restore_payload(config: Config, rs: Ruleset, existing: Existing) -> str:
    """One `iptables-restore --noflush` input: declare (flush) our chains, write the rules, delete our stale
    chains, and fix the jumps from the built-in chains (exactly one each)."""
    out: list[str] = []
    for table in ("nat", "filter"):
        wanted = rs.chains[table]
        stale = sorted(existing.chains[table] - set(wanted))
        out.append(f"*{table}")
        out += [f":{chain} - [0:0]" for chain in [*wanted, *stale]]
        expected = [_jump_rule(config, b, m, k) for t, b, m, k in JUMPS if t == table]
        present = [line[3:] for line in existing.jumps[table]]
        if sorted(present) != sorted(expected):
            out += [f"-D {rule}" for rule in present]
            out += [f"-I {rule}" for rule in expected]
        out += rs.rules[table]
        out += [f"-X {chain}" for chain in stale]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def cleanup_payload(existing: Existing) -> str:
    out: list[str] = []
    for table in ("nat", "filter"):
        out.append(f"*{table}")
        out += [f"-D {line[3:]}" for line in existing.jumps[table]]
        out += [f":{chain} - [0:0]" for chain in sorted(existing.chains[table])]
        out += [f"-X {chain}" for chain in sorted(existing.chains[table])]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


class IptablesBackend:
    """Programs ServicePorts as kernel NAT rules; one restore per sync."""

    mode = "iptables"

    def __init__(self, config: Config, host: HostNetwork, runner: Runner = run_command) -> None:
        self.config = config
        self.host = host
        self.run = runner
        self.rule_count = 0

    async def check(self) -> None:
        """CommandError when this machine cannot take iptables rules (no binary, no rights)."""
        await self.run(["iptables-save", "-t", "nat"])
        await self.run(["iptables", "-w", "5", "-t", "nat", "-S", "OUTPUT"])
        problem = self.host.bridge_netfilter()
        if problem:
            log.warning("%s: a pod reaching another pod on its bridge through a Service may fail", problem)

    async def existing(self) -> Existing:
        text = await self.run(["iptables-save", "-t", "nat"]) + await self.run(["iptables-save", "-t", "filter"])
        return parse_save(self.config, text)

    async def sync(self, ports: list[ServicePort]) -> list[Problem]:
        rs, problems = render(self.config, ports)
        await self.host.sync({sp.cluster_ip for sp in ports})
        self.host.hairpin(self.config.bridge)
        payload = restore_payload(self.config, rs, await self.existing())
        try:
            await self.run(["iptables-restore", "-w", "5", "--noflush"], payload)
        except CommandError as exc:
            log.error("iptables-restore failed: %s", exc)
            log.debug("payload:\n%s", payload)
            raise
        self.rule_count = rs.count()
        return problems

    async def cleanup(self) -> None:
        """Remove every chain, rule, address and route of ours."""
        try:
            existing = await self.existing()
            if any(existing.chains.values()) or any(existing.jumps.values()):
                await self.run(["iptables-restore", "-w", "5", "--noflush"], cleanup_payload(existing))
        except CommandError as exc:
            log.warning("could not remove iptables rules: %s", exc)
        await self.host.cleanup()

    async def close(self) -> None:
        pass
