"""`klite kubeconfig user NAME`: a kubeconfig for a new user of the local cluster, as `kubeadm kubeconfig user`
makes one: a client certificate signed by the cluster CA, whose subject is the identity (CN the user, each
--group an O). What the user may do is then RBAC's business: bind them to a role.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import certs
from cli.cluster import CONTEXT, HomeOption, _load_state
from kube.client import kubeconfig

__all__ = ["app"]

app = typer.Typer(help="Kubeconfig files for the local cluster's users.", no_args_is_help=True)


@app.command("user")
def user(
    name: Annotated[str, typer.Argument(help="the user name (the certificate's CN)")],
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="a group (O); repeatable")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here (default: stdout)")] = None,
    days: Annotated[int, typer.Option(help="how long the certificate is valid")] = 365,
    home: HomeOption = Path("~/.kubelite"),
) -> None:
    """Write a kubeconfig for NAME (in --group groups) with a certificate from the cluster CA."""
    home = home.expanduser()
    state = _load_state(home)
    if state is None or not (home / "pki" / "ca.key").exists():
        typer.echo(f"error: no local cluster in {home}: start one with `klite up`", err=True)
        raise typer.Exit(1)
    identity = certs.Identity(name, tuple(group or ()))
    cluster = certs.ensure(home, state["apiserver"])
    issued = cluster.ca.issue(name, organizations=identity.groups, validity=datetime.timedelta(days=days))
    folder = home / "users"
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = issued.write(folder / f"{name}.crt", folder / f"{name}.key")
    target = out or folder / f"{name}.conf"
    target.unlink(missing_ok=True)
    kubeconfig.merge_context(f"{name}@{CONTEXT}", state["apiserver"], path=target, ca_file=str(cluster.ca_file),
                             client_certificate=str(cert), client_key=str(key), embed=True)
    if out is None:
        sys.stdout.write(target.read_text())
    else:
        typer.echo(f"kubeconfig for {name} ({', '.join(identity.groups) or 'no groups'}) written to {out}; "
                   f"nothing is allowed until RBAC grants it, e.g. "
                   f"kubectl create rolebinding {name}-view --clusterrole=view --user={name} -n default", err=True)
