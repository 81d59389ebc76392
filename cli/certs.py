"""The local cluster's credentials, laid out as kubeadm does: a CA kept for good, leaf certificates and one
kubeconfig per component made fresh by every `klite up`.

    <home>/pki/ca.crt, ca.key              the cluster CA (made once; its key never leaves this directory)
    <home>/pki/apiserver.crt, .key          serving: 127.0.0.1, localhost, this host, the `kubernetes` Service
    <home>/pki/<component>.crt, .key        client identities, CN user and O groups
    <home>/kubeconfigs/<component>.conf     what each daemon is started with (--kubeconfig)
    <home>/pki/etcd/ca.crt, ca.key          etcd's own CA: only what it signs reaches etcd (not the cluster's users)
    <home>/pki/etcd/server.crt, .key        etcd's serving certificate; apiserver-etcd-client.crt, .key the apiserver's

Who is who follows Kubernetes' names, so its default RBAC roles apply: `kubernetes-admin` in
`system:masters`, `system:kube-scheduler`, `system:kube-controller-manager`, `system:kube-proxy` (the proxy
and the cluster DNS), `system:node:NAME` in `system:nodes`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from kube import pki
from kube.client import kubeconfig

__all__ = ["ADMIN", "COMPONENTS", "KUBELET_CLIENT", "ClusterPKI", "EtcdPKI", "Identity", "ensure", "ensure_etcd"]


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("kubernetes-admin", ("system:masters",))
#: what the apiserver presents to kubelets (kubeadm's apiserver-kubelet-client certificate)
KUBELET_CLIENT = Identity("kube-apiserver-kubelet-client", ("system:masters",))
COMPONENTS = {
    "scheduler": Identity("system:kube-scheduler"),
    "controller-manager": Identity("system:kube-controller-manager"),
    "proxy": Identity("system:kube-proxy"),
}


def node_identity(node: str) -> Identity:
    return Identity(f"system:node:{node}", ("system:nodes",))


def _host_names() -> tuple[list[str], list[str]]:
    """This host's names and addresses, for the serving certificate (best effort: a name may not resolve)."""
    names, addresses = ["localhost"], ["127.0.0.1"]
    host = socket.gethostname()
    if host:
        names.append(host)
        with contextlib.suppress(OSError):
            addresses += [a for a in socket.gethostbyname_ex(host)[2] if a not in addresses]
    return names, addresses


@dataclass(frozen=True)
class ClusterPKI:
    home: Path
    server: str
    ca: pki.CertificateAuthority

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki_dir / "ca.crt"

    def serving(self, name: str, service_ip: str | None = None, extra_ips: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """A serving certificate for this host (and the `kubernetes` Service), written as <name>.crt/.key."""
        names, addresses = _host_names()
        addresses += [ip for ip in extra_ips if ip not in addresses]
        if service_ip:
            addresses.append(service_ip)
            names += ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                      "kubernetes.default.svc.cluster.local"]
        issued = self.ca.issue("kube-apiserver", client=False, server=True, dns_names=names,
                               ip_addresses=[str(ipaddress.ip_address(a)) for a in addresses])
        return issued.write(self.pki_dir / f"{name}.crt", self.pki_dir / f"{name}.key")

    def service_account_key(self) -> Path:
        """The key service-account tokens are signed with (sa.key, made once: tokens outlive restarts)."""
        path = self.pki_dir / "sa.key"
        if not path.exists():
            pki.write_private(path, pki.new_private_key_pem())
        return path

    def client(self, name: str, identity: Identity) -> tuple[Path, Path]:
        issued = self.ca.issue(identity.user, organizations=identity.groups)
        return issued.write(self.pki_dir / f"{name}.crt", self.pki_dir / f"{name}.key")

    def kubeconfig(self, name: str, identity: Identity) -> Path:
        """A kubeconfig for `identity` (its own certificate and key, by path), as <home>/kubeconfigs/<name>.conf."""
        cert, key = self.client(name, identity)
        path = self.home / "kubeconfigs" / f"{name}.conf"
        path.unlink(missing_ok=True)
        return kubeconfig.merge_context(name, self.server, path=path, ca_file=str(self.ca_file),
                                        client_certificate=str(cert), client_key=str(key))


def ensure(home: Path, server: str) -> ClusterPKI:
    """The cluster's CA (made the first time) under `home`, ready to issue for the apiserver at `server`."""
    return ClusterPKI(home, server, pki.CertificateAuthority.load_or_create(home / "pki"))


@dataclass(frozen=True)
class EtcdPKI:
    """etcd's credentials, as kubeadm keeps them: a CA of its own, so a cluster client certificate (a node's,
    a user's) never opens etcd, whose bytes are every Secret."""

    directory: Path
    ca: pki.CertificateAuthority

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    def server(self, extra_names: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """etcd's serving certificate (this host's names and addresses, and `extra_names`: a lab's members)."""
        names, addresses = _host_names()
        issued = self.ca.issue("kube-etcd", client=True, server=True, dns_names=[*names, *extra_names],
                               ip_addresses=[str(ipaddress.ip_address(a)) for a in addresses])
        return issued.write(self.directory / "server.crt", self.directory / "server.key")

    def client(self, name: str = "apiserver-etcd-client") -> tuple[Path, Path]:
        issued = self.ca.issue(f"kube-{name}")
        return issued.write(self.directory / f"{name}.crt", self.directory / f"{name}.key")


def ensure_etcd(home: Path) -> EtcdPKI:
    """etcd's CA (made the first time) under `home`/pki/etcd."""
    directory = home / "pki" / "etcd"
    return EtcdPKI(directory, pki.CertificateAuthority.load_or_create(directory, "etcd-ca"))
