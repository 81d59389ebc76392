"""`klite token create|list|delete`: bootstrap tokens for joining nodes, as `kubeadm token` manages them."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from cryptography import x509

from cli import bootstraptokens, context
from kube import errors, pki, timeutil
from kube.resources import CONFIGMAPS, SERVICES

__all__ = ["app"]

app = typer.Typer(help="Bootstrap tokens, with which nodes join the cluster (klite join).", no_args_is_help=True)

KubeconfigOpt = Annotated[Path | None, typer.Option("--kubeconfig", help="Path to the kubeconfig file.")]


async def _join_command(session: context.Session, token: str) -> str:
    """`klite join ...` for this cluster: its public server and CA hash (from cluster-info) and its DNS address
    (the kube-dns Service's ClusterIP, which kubeadm hands joining kubelets in its kubelet-config)."""
    info = await session.client.get(CONFIGMAPS, bootstraptokens.CLUSTER_INFO, "kube-public")
    cluster = yaml.safe_load(info["data"]["kubeconfig"])["clusters"][0]["cluster"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["certificate-authority-data"]))
    command = (f"klite join --server {cluster['server']} --token {token} "
               f"--discovery-token-ca-cert-hash {pki.ca_cert_hash(ca)}")
    try:
        dns = (await session.client.get(SERVICES, "kube-dns", "kube-system"))["spec"].get("clusterIP")
    except errors.NotFound:
        dns = None
    return f"{command} --cluster-dns {dns}" if dns else command


@app.command("create")
def create(
    ttl: Annotated[str, typer.Option("--ttl", help="how long the token is valid (Go duration; 0: forever)")] = "24h",
    description: Annotated[str, typer.Option("--description", help="what the token is for")] = "",
    print_join_command: Annotated[bool, typer.Option("--print-join-command",
                                                     help="print the whole `klite join` command")] = False,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Create a bootstrap token (and make sure nodes may join with it)."""
    try:
        seconds = timeutil.go_duration_seconds(ttl)
    except ValueError as exc:
        context.err(f"error: --ttl: {exc}")
        raise typer.Exit(1) from None

    async def command() -> int:
        async with context.session(context.Globals(kubeconfig)) as session:
            token = await bootstraptokens.create_token(
                session.client, datetime.timedelta(seconds=seconds) if seconds else None, description)
            typer.echo(await _join_command(session, token) if print_join_command else token)
        return 0

    context.run(command)


@app.command("list")
def list_(kubeconfig: KubeconfigOpt = None) -> None:
    """List the bootstrap tokens (their ids; secrets are never shown)."""
    async def command() -> int:
        async with context.session(context.Globals(kubeconfig)) as session:
            rows = await bootstraptokens.list_tokens(session.client)
        if not rows:
            typer.echo("No bootstrap tokens.", err=True)
            return 0
        columns = list(rows[0])
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
        for line in [dict(zip(columns, columns, strict=True)), *rows]:
            typer.echo("   ".join(line[c].ljust(widths[c]) for c in columns).rstrip())
        return 0

    context.run(command)


@app.command("delete")
def delete(token: Annotated[str, typer.Argument(help="the token, or its id")],
           kubeconfig: KubeconfigOpt = None) -> None:
    """Delete a bootstrap token: nodes can no longer join with it (joined ones keep their certificates)."""
    async def command() -> int:
        async with context.session(context.Globals(kubeconfig)) as session:
            token_id = await bootstraptokens.delete_token(session.client, token)
        typer.echo(f'bootstrap token "{token_id}" deleted')
        return 0

    context.run(command)
