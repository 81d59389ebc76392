"""What a node needs to join, made as `kubeadm init` and `kubeadm token create` make it.

- a bootstrap token: the Secret `kube-system/bootstrap-token-ID` (type bootstrap.kubernetes.io/token) for the
  token `ID.SECRET`, usable for authentication, with an expiry, in the group
  system:bootstrappers:kubeadm:default-node-token;
- kubeadm's ClusterRoleBindings: that group may create CSRs (system:node-bootstrapper) and have node client CSRs
  auto-approved (nodeclient); nodes may have their renewals auto-approved (selfnodeclient);
- the ConfigMap `kube-public/cluster-info` holding a kubeconfig with the server and the CA, readable by
  system:anonymous: where `klite join` finds the CA before it trusts anything, checking it against the pinned
  `--discovery-token-ca-cert-hash`.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import string
from typing import Any

import yaml

from kube import errors
from kube.client import ApiClient
from kube.resources import CONFIGMAPS, SECRETS, ResourceType, by_plural

__all__ = ["NODE_TOKEN_GROUP", "create_token", "delete_token", "ensure_join_prerequisites", "list_tokens"]

NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
NAMESPACE = "kube-system"
CLUSTER_INFO = "cluster-info"
_ALPHABET = string.ascii_lowercase + string.digits
_RBAC = "rbac.authorization.k8s.io"


def _rbac(plural: str) -> ResourceType:
    found = by_plural(_RBAC, "v1", plural)
    assert found is not None
    return found


def _binding(name: str, role: str, group: str) -> dict[str, Any]:
    return {"apiVersion": f"{_RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": group}]}


JOIN_BINDINGS = (
    _binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", NODE_TOKEN_GROUP),
    _binding("kubeadm:node-autoapprove-bootstrap",
             "system:certificates.k8s.io:certificatesigningrequests:nodeclient", NODE_TOKEN_GROUP),
    _binding("kubeadm:node-autoapprove-certificate-rotation",
             "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
)


async def _create_or_replace(client: ApiClient, rt: ResourceType, obj: dict[str, Any]) -> None:
    try:
        await client.create(rt, obj)
    except errors.AlreadyExists:
        meta = obj["metadata"]
        current = await client.get(rt, meta["name"], meta.get("namespace"))
        await client.replace(rt, {**obj, "metadata": {**meta, "resourceVersion":
                                                      current["metadata"]["resourceVersion"]}})


async def ensure_join_prerequisites(client: ApiClient, server: str, ca_pem: bytes) -> None:
    """The bindings and the public cluster-info (idempotent: safe to run before every token)."""
    for binding in JOIN_BINDINGS:
        await _create_or_replace(client, _rbac("clusterrolebindings"), binding)
    info = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "", "cluster": {
        "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "contexts": [], "users": [], "current-context": "", "preferences": {}}
    await _create_or_replace(client, CONFIGMAPS, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CLUSTER_INFO, "namespace": "kube-public"},
        "data": {"kubeconfig": yaml.safe_dump(info, sort_keys=False)}})
    reader = "kubeadm:bootstrap-signer-clusterinfo"
    await _create_or_replace(client, _rbac("roles"), {
        "apiVersion": f"{_RBAC}/v1", "kind": "Role", "metadata": {"name": reader, "namespace": "kube-public"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [CLUSTER_INFO],
                   "verbs": ["get"]}]})
    await _create_or_replace(client, _rbac("rolebindings"), {
        "apiVersion": f"{_RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": reader, "namespace": "kube-public"},
        "roleRef": {"apiGroup": _RBAC, "kind": "Role", "name": reader},
        "subjects": [{"apiGroup": _RBAC, "kind": "User", "name": "system:anonymous"}]})


async def create_token(client: ApiClient, ttl: datetime.timedelta | None, description: str = "") -> str:
    """A new token `ID.SECRET` for joining nodes (no expiry when `ttl` is None or zero)."""
    token_id = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    token_secret = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    data = {"token-id": token_id, "token-secret": token_secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": NODE_TOKEN_GROUP}
    if description:
        data["description"] = description
    if ttl:
        expires = datetime.datetime.now(datetime.UTC) + ttl
        data["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    await client.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                                  "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": NAMESPACE},
                                  "stringData": data})
    return f"{token_id}.{token_secret}"


async def list_tokens(client: ApiClient) -> list[dict[str, str]]:
    """The bootstrap tokens' id, expiry, usages, description and groups (never their secrets)."""
    listed = await client.list(SECRETS, NAMESPACE)
    rows = []
    for secret in listed.get("items") or []:
        if secret.get("type") != "bootstrap.kubernetes.io/token":
            continue
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
        usages = sorted(k.removeprefix("usage-bootstrap-") for k, v in data.items()
                        if k.startswith("usage-bootstrap-") and v == "true")
        rows.append({"TOKEN": f"{data.get('token-id', '?')}.<secret>", "EXPIRES": data.get("expiration", "<forever>"),
                     "USAGES": ",".join(usages), "DESCRIPTION": data.get("description", ""),
                     "EXTRA GROUPS": data.get("auth-extra-groups", "")})
    return rows


async def delete_token(client: ApiClient, token: str) -> str:
    """Delete the token given as `ID` or `ID.SECRET`; its id."""
    token_id = token.partition(".")[0]
    await client.delete(SECRETS, f"bootstrap-token-{token_id}", NAMESPACE)
    return token_id
