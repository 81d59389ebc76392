"""Admission checks that run before an object is stored (after decoding and validation).

Only NamespaceLifecycle so far: objects go only into namespaces that exist and are not terminating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kube import errors
from kube.resources import NAMESPACES, ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["namespace_lifecycle"]


async def namespace_lifecycle(registry: Registry, rt: ResourceType, namespace: str) -> None:
    ns = await registry.storage.get(registry.storage.key(NAMESPACES.plural, None, namespace))
    if ns is None:
        raise errors.NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
    if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
        raise errors.Forbidden(
            f'{rt.plural} "{namespace}" is forbidden: unable to create new content in namespace {namespace} '
            "because it is being terminated",
            kind=rt.plural,
        )
