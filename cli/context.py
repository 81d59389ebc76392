"""What every klite command shares: the global options, the API client they yield, and error reporting.

Commands are async (the shared `ApiClient` is); `run` drives one to completion and turns failures into
kubectl's one-line messages and exit codes, so a user error never ends in a Python traceback.
Neighbours: `cli.main` (the typer app) builds a `Globals` and passes it to the command modules.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
import yaml

from kube import errors, resources
from kube.client import ApiClient
from kube.resources import ResourceType

__all__ = [
    "CliError",
    "Globals",
    "Session",
    "api_error_message",
    "err",
    "resolve_type",
    "run",
    "session",
    "type_prefix",
    "unreachable",
]


class CliError(Exception):
    """A mistake on the user's side (bad flag combination, unknown type): printed as `error: ...`, exit 1."""


@dataclass(frozen=True)
class Globals:
    """The kubectl-style global options; None means "not given" so a command's own flag can override."""

    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str | None = None

    def merged(self, kubeconfig_path: Path | None, context: str | None, namespace: str | None) -> Globals:
        """Options given after the subcommand win over those given before it, as with kubectl."""
        return Globals(kubeconfig_path or self.kubeconfig, context or self.context, namespace or self.namespace)


@dataclass
class Session:
    client: ApiClient
    namespace: str  # the effective namespace: -n, else the context's, else "default"
    explicit_namespace: bool  # -n was given: apply refuses manifests naming another namespace


@asynccontextmanager
async def session(options: Globals) -> AsyncIterator[Session]:
    """An API client for the chosen kubeconfig context; closed when the command ends."""
    try:
        client, context_namespace = ApiClient.from_kubeconfig(options.kubeconfig, options.context,
                                                              user_agent="klite")
    except (ValueError, KeyError, OSError, yaml.YAMLError) as exc:
        detail = f"invalid kubeconfig: missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CliError(detail) from exc
    try:
        yield Session(client, options.namespace or context_namespace or "default", bool(options.namespace))
    finally:
        await client.close()


def resolve_type(name: str) -> ResourceType:
    """The resource type a user typed (`po`, `pods`, `Pod`, `deployments.apps`), or kubectl's error."""
    rt = resources.lookup(name)
    if rt is None:
        raise CliError(f'the server doesn\'t have a resource type "{name}"')
    return rt


def type_prefix(rt: ResourceType) -> str:
    """How kubectl names a type in its output: `pod`, `deployment.apps`."""
    return f"{rt.singular_name}.{rt.group}" if rt.group else rt.singular_name


def unreachable(exc: errors.ApiError) -> bool:
    """Whether the error means "no answer at all" (connection refused, timeout), not a Status from the server."""
    return isinstance(exc.__cause__, httpx.TransportError)


def api_error_message(exc: errors.ApiError, context: str = "") -> str:
    """kubectl's wording: `Error from server (NotFound): ...`; an Invalid object names its kind and lists each
    field cause (on its own line when there are several); `context` says which document and verb failed."""
    if unreachable(exc):
        return f"error: {exc.message}"
    causes = [c for c in exc.causes if c.get("field") or c.get("message")]
    if isinstance(exc, errors.Invalid) and causes and (exc.kind or exc.name):
        head = f'The {exc.kind or ""} "{exc.name or ""}" is invalid'
        texts = [f"{c['field']}: {c.get('message', '')}" if c.get("field") else c.get("message", "")
                 for c in causes]
        body = texts[0] if len(texts) == 1 else "\n" + "\n".join(f"* {t}" for t in texts)
        return f"{head}: {body}"  # as kubectl: the kind and name say which document it was
    prefix = f"{context}: " if context else ""
    return f"Error from server ({exc.reason}): {prefix}{exc.message}"


def err(message: str) -> None:
    typer.echo(message, err=True)


def run(command: Callable[[], Awaitable[int | None]]) -> None:
    """Run an async command; map its outcome (a return code, CliError, ApiError, Ctrl-C) to an exit code."""
    try:
        code = asyncio.run(command()) or 0
    except CliError as exc:
        err(f"error: {exc}")
        code = 1
    except errors.ApiError as exc:
        err(api_error_message(exc))
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `klite get pods | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        code = 0
    if code:
        raise typer.Exit(code)
