"""Kernel rule generation: chain names, even balancing, affinity, no-endpoint rejects, node ports (Cluster and
Local), hairpin masquerade, determinism, and the restore payload (stale chains deleted, jumps exactly once).
The rules themselves are applied to a real kernel in tests/e2e/test_services.py."""

from __future__ import annotations

import re

import pytest

from proxy.iptables import (
    JUMPS,
    Config,
    Existing,
    chain_name,
    cleanup_payload,
    parse_save,
    render,
    restore_payload,
    valid_prefix,
)
from proxy.model import Endpoint, ServicePort

CONFIG = Config(prefix="KUBELITE", service_cidr="10.96.0.0/16", node_name="n1")
EPS = (Endpoint("172.17.0.2", 8080, "n1"), Endpoint("172.17.0.3", 8080, "n2"), Endpoint("172.17.0.4", 8080, "n1"))


def port(**kw: object) -> ServicePort:
    base: dict = {"namespace": "default", "name": "web", "port_name": "", "protocol": "TCP",
                  "cluster_ip": "10.96.0.5", "port": 80, "endpoints": EPS}
    return ServicePort(**{**base, **kw})


def nat(ports: list[ServicePort], config: Config = CONFIG) -> list[str]:
    return render(config, ports)[0].rules["nat"]


def filt(ports: list[ServicePort]) -> list[str]:
    return render(CONFIG, ports)[0].rules["filter"]


@pytest.mark.parametrize("prefix", ["KUBELITE", "K", "KL7A2B9C0D1"])
def test_chain_names_fit_iptables(prefix: str) -> None:
    name = chain_name(prefix, "SEP", "default/web:http", "TCP", "172.17.0.2:8080")
    assert len(name) <= 28 and name.startswith(f"{prefix}-SEP-")
    assert name == chain_name(prefix, "SEP", "default/web:http", "TCP", "172.17.0.2:8080")


@pytest.mark.parametrize(("prefix", "ok"), [("KUBELITE", True), ("KL1", True), ("kl", False), ("KL-1", False),
                                             ("ABCDEFGHIJKL", False), ("1KL", False)])
def test_prefixes(prefix: str, ok: bool) -> None:
    assert valid_prefix(prefix) is ok


def test_even_balancing_probabilities() -> None:
    rules = [r for r in nat([port()]) if "-SVC-" in r.split()[1]]
    probabilities = [float(m) for r in rules for m in re.findall(r"--probability (\S+)", r)]
    assert probabilities == pytest.approx([1 / 3, 1 / 2])
    assert "--probability" not in rules[-1]  # the last endpoint takes what is left
    # each endpoint's share: 1/3, (2/3)(1/2), (2/3)(1/2)(1)
    shares = [probabilities[0], (1 - probabilities[0]) * probabilities[1], (1 - probabilities[0]) * 0.5]
    assert shares == pytest.approx([1 / 3] * 3)


def test_dnat_and_hairpin_masquerade_per_endpoint() -> None:
    rules = nat([port()])
    dnats = [r for r in rules if "-j DNAT" in r]
    assert [r.rsplit(" ", 1)[1] for r in dnats] == ["172.17.0.2:8080", "172.17.0.3:8080", "172.17.0.4:8080"]
    assert sum(1 for r in rules if "-s 172.17.0.2/32" in r and r.endswith("-j KUBELITE-MARK-MASQ")) == 1


def test_cluster_ip_rule_and_catch_all_reject() -> None:
    rules = nat([port()])
    assert any(r.startswith("-A KUBELITE-SERVICES") and "-d 10.96.0.5/32 -p tcp -m tcp --dport 80" in r
               for r in rules)
    assert filt([port()])[-1].endswith("-d 10.96.0.0/16 -j REJECT --reject-with icmp-port-unreachable")


def test_client_ip_affinity_uses_recent() -> None:
    rules = nat([port(affinity_seconds=60)])
    checks = [r for r in rules if "--rcheck --seconds 60 --reap" in r]
    sets = [r for r in rules if "-m recent --name" in r and "--set" in r]
    assert len(checks) == 3 and len(sets) == 3
    first_stat = next(i for i, r in enumerate(rules) if "statistic" in r)
    assert all(rules.index(r) < first_stat for r in checks)


def test_no_endpoints_rejects_instead_of_nat() -> None:
    empty = port(endpoints=(), node_port=30080)
    assert not any("-SVC-" in r for r in nat([empty]))
    rejects = [r for r in filt([empty]) if "has no endpoints" in r]
    assert len(rejects) == 2 and "--dport 80" in rejects[0] and "--dport 30080" in rejects[1]


def test_node_port_cluster_policy_masquerades_then_balances() -> None:
    rules = nat([port(node_port=30080)])
    np = [r for r in rules if r.startswith("-A KUBELITE-NODEPORTS")]
    assert np[0].endswith("-j KUBELITE-MARK-MASQ") and "-SVC-" in np[1] and "--dport 30080" in np[1]
    assert rules[-1].startswith("-A KUBELITE-SERVICES") and rules[-1].endswith("-j KUBELITE-NODEPORTS")


def test_node_port_local_policy_keeps_client_ip_and_local_endpoints() -> None:
    rules = nat([port(node_port=30080, external_local=True)])
    np = [r for r in rules if r.startswith("-A KUBELITE-NODEPORTS")]
    assert len(np) == 1 and "-XLB-" in np[0]
    xlb = np[0].rsplit(" ", 1)[1]
    assert len([r for r in rules if r.startswith(f"-A {xlb} ")]) == 2  # the two endpoints on n1


def test_render_is_deterministic_and_validates() -> None:
    ports = [port(), port(name="api", cluster_ip="10.96.0.6", node_port=30081)]
    assert render(CONFIG, ports)[0].rules == render(CONFIG, ports)[0].rules
    rs, problems = render(CONFIG, [port(port=70000), port(name="ok", cluster_ip="10.96.0.7")])
    assert [p.name for p in problems] == ["web"] and any("10.96.0.7" in r for r in rs.rules["nat"])


SAVE = """# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:KUBELITE-SERVICES - [0:0]
:KUBELITE-SVC-AAAAAAAAAAAAAAA - [0:0]
:KUBELITE2-SERVICES - [0:0]
-A PREROUTING -m comment --comment "kubelite service portals" -j KUBELITE-SERVICES
-A PREROUTING -m comment --comment "kubelite service portals" -j KUBELITE-SERVICES
-A PREROUTING -j KUBELITE2-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A KUBELITE-SERVICES -j KUBELITE-SVC-AAAAAAAAAAAAAAA
COMMIT
*filter
:INPUT ACCEPT [0:0]
COMMIT
"""


def test_parse_save_finds_only_our_chains_and_jumps() -> None:
    found = parse_save(CONFIG, SAVE)
    assert found.chains["nat"] == {"KUBELITE-SERVICES", "KUBELITE-SVC-AAAAAAAAAAAAAAA"}
    assert len(found.jumps["nat"]) == 2 and found.rules["nat"] == 1


def test_restore_payload_deletes_stale_chains_and_fixes_duplicate_jumps() -> None:
    rs, _ = render(CONFIG, [port()])
    payload = restore_payload(CONFIG, rs, parse_save(CONFIG, SAVE))
    lines = payload.splitlines()
    assert "-X KUBELITE-SVC-AAAAAAAAAAAAAAA" in lines and ":KUBELITE-SVC-AAAAAAAAAAAAAAA - [0:0]" in lines
    assert lines.count('-D PREROUTING -m comment --comment "kubelite service portals" -j KUBELITE-SERVICES') == 2
    assert lines.count('-I PREROUTING -m comment --comment "kubelite service portals" -j KUBELITE-SERVICES') == 1
    assert not any("KUBELITE2" in line for line in lines)
    assert [line for line in lines if line.startswith("*") or line == "COMMIT"] == ["*nat", "COMMIT", "*filter",
                                                                                 "COMMIT"]


def test_restore_payload_leaves_correct_jumps_alone() -> None:
    rs, _ = render(CONFIG, [port()])
    existing = Existing()
    for table, builtin, match, kind in JUMPS:
        existing.jumps[table].append(f"-A {builtin} {match} -j {CONFIG.chain(kind)}")
    payload = restore_payload(CONFIG, rs, existing)
    assert "-I " not in payload and "-D " not in payload


def test_cleanup_payload_removes_everything_of_ours() -> None:
    payload = cleanup_payload(parse_save(CONFIG, SAVE))
    assert "-X KUBELITE-SERVICES" in payload and "-X KUBELITE-SVC-AAAAAAAAAAAAAAA" in payload
    assert payload.count("-D PREROUTING") == 2 and "KUBELITE2" not in payload
