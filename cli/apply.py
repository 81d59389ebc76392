"""`klite apply -f`: create what is absent, patch what exists (client-side apply, like kubectl's default).

Each document is handled on its own, in order (a Namespace before the Pods in it): one bad document is
reported with its file and position and the rest still go ahead; the exit code says whether all succeeded.
"""

from __future__ import annotations

from typing import Any

from cli import manifests, patching
from cli.context import CliError, Session, api_error_message, err, type_prefix, unreachable
from kube import errors, resources

__all__ = ["ApplyFailed", "apply_document", "apply_documents"]

Obj = dict[str, Any]


class ApplyFailed(Exception):
    """The server refused a write; `context` says which document and which verb, as kubectl does."""

    def __init__(self, context: str, error: errors.ApiError) -> None:
        super().__init__(f"{context}: {error}")
        self.context = context
        self.error = error


def _place(session: Session, doc: manifests.Document) -> tuple[resources.ResourceType, Obj]:
    """The document's resource type and the manifest with its namespace settled (kubectl's rules)."""
    obj = doc.obj or {}
    rt = resources.by_kind(str(obj["apiVersion"]), str(obj["kind"]))
    if rt is None:
        raise CliError(f'resource mapping not found for kind "{obj["kind"]}" in version "{obj["apiVersion"]}" '
                       f'in "{doc.where}": ensure the resource type exists')
    manifest = dict(obj)
    meta = dict(manifest.get("metadata") or {})
    manifest["metadata"] = meta
    if not meta.get("name"):
        what = "generateName is not supported by apply" if meta.get("generateName") else "name is required"
        raise CliError(f'error when applying "{doc.where}": {type_prefix(rt)}: {what}')
    if rt.namespaced:
        declared = meta.get("namespace")
        if declared and session.explicit_namespace and declared != session.namespace:
            raise CliError(f'the namespace from the provided object "{declared}" does not match the namespace '
                           f'"{session.namespace}". You must pass \'--namespace={declared}\' to perform this '
                           "operation.")
        meta["namespace"] = declared or session.namespace
    else:
        meta.pop("namespace", None)
    return rt, manifest


async def apply_document(session: Session, doc: manifests.Document, *, validate: bool = True) -> str:
    """Apply one document; the kubectl-style outcome line (`pod/demo created|configured|unchanged`)."""
    rt, manifest = _place(session, doc)
    meta = manifest["metadata"]
    name, namespace = meta["name"], meta.get("namespace")
    params = {"fieldValidation": "Strict"} if validate else None
    wanted = patching.with_last_applied(manifest)
    label = f"{type_prefix(rt)}/{name}"
    try:
        live = await session.client.get(rt, name, namespace)
    except errors.NotFound:
        live = None
    except errors.ApiError as exc:
        raise ApplyFailed(f'error when retrieving current configuration of "{doc.where}"', exc) from exc
    if live is None:
        try:
            await session.client.create(rt, wanted, namespace, params=params)
        except errors.ApiError as exc:
            raise ApplyFailed(f'error when creating "{doc.where}"', exc) from exc
        return f"{label} created"
    patch = patching.three_way_merge_patch(patching.last_applied(live), wanted, live)
    if not patch:
        return f"{label} unchanged"
    try:
        await session.client.patch(rt, name, patch, namespace, patch_type="merge", params=params)
    except errors.ApiError as exc:
        raise ApplyFailed(f'error when patching "{doc.where}"', exc) from exc
    return f"{label} configured"


async def apply_documents(session: Session, docs: list[manifests.Document], *, validate: bool = True) -> int:
    """Apply every document, printing one line each; 1 if any failed, else 0."""
    if not docs:
        raise CliError("no objects passed to apply")
    failed = False
    for doc in docs:
        if doc.obj is None:
            err(f"error: {doc.error}" if doc.source in (doc.error or "") else f"error: {doc.where}: {doc.error}")
            failed = True
            continue
        try:
            print(await apply_document(session, doc, validate=validate), flush=True)
        except CliError as exc:
            err(f"error: {exc}")
            failed = True
        except ApplyFailed as exc:
            if unreachable(exc.error):
                raise exc.error from None  # the server is gone: the other documents would fail the same way
            err(api_error_message(exc.error, exc.context))
            failed = True
    return 1 if failed else 0
