"""What a Pod sees of the cluster's names — pure functions: its resolv.conf (dnsPolicy, dnsConfig), its
managed /etc/hosts (its own IP and hostname, hostAliases), and the Docker-link-style service environment
variables (`WEB_SERVICE_HOST`, `WEB_PORT_80_TCP`, ...) that Kubernetes injects with enableServiceLinks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hosts_file", "pod_hostname", "resolv_conf", "service_env", "uses_cluster_dns"]

Obj = dict[str, Any]

MAX_NAMESERVERS = 3
MAX_SEARCH = 32

_HOSTS_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf; the last search line wins, as in libc."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, search, options


def uses_cluster_dns(pod: Obj) -> bool:
    spec = pod["spec"]
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet":
        return True
    return policy == "ClusterFirst" and not spec.get("hostNetwork")


def _merge_options(base: list[str], extra: list[Obj]) -> list[str]:
    """dnsConfig.options over the base options: same name replaces, a new one is appended."""
    out: dict[str, str] = {}
    for opt in base:
        name, _, _value = opt.partition(":")
        out[name] = opt
    for opt in extra:
        name = opt.get("name", "")
        if name:
            out[name] = f"{name}:{opt['value']}" if opt.get("value") not in (None, "") else name
    return list(out.values())


def resolv_conf(pod: Obj, *, cluster_dns: list[str], cluster_domain: str, host_resolv: str) -> str | None:
    """The pod's resolv.conf, or None when the runtime's default should stay (dnsPolicy Default and no
    dnsConfig). ClusterFirst without a cluster DNS configured falls back to Default, as Kubernetes does."""
    spec = pod["spec"]
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    ns = pod["metadata"].get("namespace") or "default"
    host_servers, host_search, host_options = parse_resolv_conf(host_resolv)
    host_servers = [s for s in host_servers if not s.startswith("127.") and s != "::1"]
    if policy == "None":
        servers, search, options = [], [], []
    elif uses_cluster_dns(pod) and cluster_dns:
        servers = list(cluster_dns)
        search = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *host_search]
        options = ["ndots:5"]
    else:
        if not config:
            return None
        servers, search, options = host_servers, host_search, host_options
    servers = [*servers, *[s for s in config.get("nameservers") or [] if s not in servers]]
    search = [*search, *[s for s in config.get("searches") or [] if s not in search]]
    options = _merge_options(options, config.get("options") or [])
    lines = []
    if search:
        lines.append("search " + " ".join(search[:MAX_SEARCH]))
    lines += [f"nameserver {s}" for s in servers[:MAX_NAMESERVERS]]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def pod_hostname(pod: Obj, cluster_domain: str) -> tuple[str, str]:
    """(hostname, domain): spec.hostname or the pod's name (63 characters at most), and
    `<subdomain>.<namespace>.svc.<cluster domain>` when spec.subdomain is set."""
    spec, meta = pod["spec"], pod["metadata"]
    hostname = (spec.get("hostname") or meta["name"])[:63].rstrip("-.")
    domain = f"{spec['subdomain']}.{meta.get('namespace') or 'default'}.svc.{cluster_domain}" \
        if spec.get("subdomain") else ""
    return hostname, domain


def hosts_file(pod: Obj, pod_ip: str, cluster_domain: str, host_hosts: str = "") -> str:
    """The pod's /etc/hosts: localhost entries, the pod's IP and names, then hostAliases. A hostNetwork
    pod sees the node's own hosts file (plus its aliases)."""
    if pod["spec"].get("hostNetwork"):
        text = host_hosts if host_hosts.endswith("\n") or not host_hosts else host_hosts + "\n"
    else:
        text = _HOSTS_HEADER
        hostname, domain = pod_hostname(pod, cluster_domain)
        if pod_ip:
            text += f"{pod_ip}\t{hostname}.{domain}\t{hostname}\n" if domain else f"{pod_ip}\t{hostname}\n"
    aliases = pod["spec"].get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        for alias in aliases:
            if alias.get("ip") and alias.get("hostnames"):
                text += f"{alias['ip']}\t" + "\t".join(alias["hostnames"]) + "\n"
    return text


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: list[Obj], namespace: str, enable_service_links: bool) -> dict[str, str]:
    """The service environment variables for a pod of `namespace`: every Service of that namespace with a
    ClusterIP (when service links are on) and, always, the `kubernetes` Service of `default`."""
    chosen: dict[str, Obj] = {}
    for svc in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        meta, spec = svc["metadata"], svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            continue
        name, ns = meta["name"], meta.get("namespace")
        if ns == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
        elif enable_service_links and ns == namespace:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name, svc in sorted(chosen.items()):
        spec = svc["spec"]
        ports = spec.get("ports") or []
        if not ports:
            continue
        ip, prefix = spec["clusterIP"], _env_name(name)
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{(first.get('protocol') or 'TCP').lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = port.get("protocol") or "TCP"
            key = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
            env[key] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{key}_PROTO"] = proto.lower()
            env[f"{key}_PORT"] = str(port["port"])
            env[f"{key}_ADDR"] = ip
    return env
