"""The `klite` command line: kubectl's verbs and flags over the kubelite API (and `up`/`down` for a local cluster).

This module only declares commands and options; the work lives in one module per verb (`cli.apply`, `cli.get`,
`cli.describe`, `cli.delete`). Global options (`--kubeconfig`, `--context`, `-n`) may come before the verb or
after it, as with kubectl.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import apply as apply_cmd
from cli import cluster, context, join, manifests, resources_cmd, tokens, users
from cli import delete as delete_cmd
from cli import describe as describe_cmd
from cli import get as get_cmd

__all__ = ["app", "main"]

app = typer.Typer(
    name="klite",
    help="klite controls a kubelite cluster, the way kubectl controls Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

KubeconfigOpt = Annotated[Path | None, typer.Option(
    "--kubeconfig", help="Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).")]
ContextOpt = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
NamespaceOpt = Annotated[str | None, typer.Option(
    "--namespace", "-n", help="The namespace (default: the context's namespace, else 'default').")]
FilenameOpt = Annotated[list[str] | None, typer.Option(
    "--filename", "-f", help="A file, a folder (*.yaml, *.yml, *.json) or '-' for stdin; repeatable.")]
RecursiveOpt = Annotated[bool, typer.Option("--recursive", "-R", help="Read folders given with -f recursively.")]
SelectorOpt = Annotated[str | None, typer.Option(
    "--selector", "-l", help="Label selector, e.g. 'app=web,tier!=db'.")]


def _globals(ctx: typer.Context, kubeconfig: Path | None, context_name: str | None,
             namespace: str | None) -> context.Globals:
    base = ctx.obj if isinstance(ctx.obj, context.Globals) else context.Globals()
    return base.merged(kubeconfig, context_name, namespace)


@app.callback()
def _root(
    ctx: typer.Context,
    kubeconfig: KubeconfigOpt = None,
    context_name: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """klite controls a kubelite cluster, the way kubectl controls Kubernetes."""
    ctx.obj = context.Globals(kubeconfig, context_name, namespace)


@app.command()
def apply(
    ctx: typer.Context,
    filename: FilenameOpt = None,
    recursive: RecursiveOpt = False,
    validate: Annotated[str, typer.Option(
        help="strict (refuse unknown fields, the default), warn, or ignore/false.")] = "strict",
    kubeconfig: KubeconfigOpt = None,
    context_name: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Create or update objects from manifests: `klite apply -f FILE|DIR|-`."""
    if not filename:
        context.err("error: must specify one of -f and -k")
        raise typer.Exit(1)
    options = _globals(ctx, kubeconfig, context_name, namespace)
    strict = validate.lower() in ("strict", "true")
    docs = manifests.load(filename, recursive=recursive, stdin=sys.stdin)

    async def command() -> int:
        async with context.session(options) as session:
            return await apply_cmd.apply_documents(session, docs, validate=strict)

    context.run(command)


@app.command()
def get(
    ctx: typer.Context,
    args: Annotated[list[str] | None, typer.Argument(help="TYPE [NAME...], TYPE1,TYPE2, or TYPE/NAME...")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="wide, yaml, json or name.")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="List across namespaces.")] = False,
    selector: SelectorOpt = None,
    field_selector: Annotated[str | None, typer.Option(
        "--field-selector", help="Field selector, e.g. 'spec.nodeName=n1,status.phase!=Running'.")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="After listing, print each change.")] = False,
    show_labels: Annotated[bool, typer.Option("--show-labels", help="Add a LABELS column.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context_name: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Display one or many objects: `klite get pods`, `klite get pod demo -o yaml`, `klite get nodes -o wide`."""
    options = _globals(ctx, kubeconfig, context_name, namespace)
    opts = get_cmd.GetOptions(output, all_namespaces, selector, field_selector, watch, show_labels)

    async def command() -> int:
        async with context.session(options) as session:
            return await get_cmd.get(session, list(args or []), opts)

    context.run(command)


@app.command()
def describe(
    ctx: typer.Context,
    args: Annotated[list[str] | None, typer.Argument(help="TYPE [NAME...] or TYPE/NAME...")] = None,
    selector: SelectorOpt = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across namespaces.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context_name: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Show the details of objects and their recent events: `klite describe pod demo`."""
    options = _globals(ctx, kubeconfig, context_name, namespace)

    async def command() -> int:
        async with context.session(options) as session:
            return await describe_cmd.describe(session, list(args or []), selector, all_namespaces)

    context.run(command)


@app.command()
def delete(
    ctx: typer.Context,
    args: Annotated[list[str] | None, typer.Argument(help="TYPE NAME..., TYPE/NAME..., or TYPE with -l/--all")] = None,
    filename: FilenameOpt = None,
    recursive: RecursiveOpt = False,
    selector: SelectorOpt = None,
    all_objects: Annotated[bool, typer.Option("--all", help="Delete every object of the type.")] = False,
    grace_period: Annotated[int, typer.Option(
        "--grace-period", help="Seconds the object gets to stop; -1 keeps its own default.")] = -1,
    now: Annotated[bool, typer.Option("--now", help="Same as --grace-period=1.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --grace-period=0: remove at once.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the objects are gone.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for deletion (0: 60s).")] = 0,
    ignore_not_found: Annotated[bool, typer.Option("--ignore-not-found", help="A missing object is fine.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context_name: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Delete objects by name, by manifest (-f) or by label selector (-l)."""
    options = _globals(ctx, kubeconfig, context_name, namespace)
    opts = delete_cmd.DeleteOptions(
        selector=selector, all_objects=all_objects, grace_period=1 if now else grace_period, force=force,
        wait=wait, timeout=timeout or 60.0, ignore_not_found=ignore_not_found)
    docs = manifests.load(filename, recursive=recursive, stdin=sys.stdin) if filename else None

    async def command() -> int:
        async with context.session(options) as session:
            return await delete_cmd.delete(session, list(args or []), docs, opts)

    context.run(command)


@app.command("api-resources")
def api_resources(
    output: Annotated[str | None, typer.Option("--output", "-o", help="wide or name.")] = None,
) -> None:
    """List the resource types klite knows (names, short names, kinds)."""
    print(resources_cmd.render(output or ""))


app.command("up")(cluster.up)
app.command("down")(cluster.down)
app.command("status")(cluster.status)
app.add_typer(users.app, name="kubeconfig")
app.add_typer(tokens.app, name="token")
app.command("join")(join.join)


def main() -> None:
    """Entry point of the `klite` script and `python -m cli`."""
    app(prog_name="klite")


if __name__ == "__main__":
    main()
