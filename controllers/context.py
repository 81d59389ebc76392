"""What every controller is given: the API client, shared informers, an event recorder and its options."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kube.client import ApiClient
from kube.events import EventRecorder
from kube.informer import Informer
from kube.resources import ResourceType

__all__ = ["ControllerContext", "InformerFactory"]


class InformerFactory:
    """One informer per resource type, shared by every controller that asks for it (one watch each)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[ResourceType, Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def informer(self, resource: ResourceType) -> Informer:
        if resource not in self._informers:
            self._informers[resource] = Informer(self.client, resource)
            if self._tasks:  # asked for after start(): run it at once
                self._tasks.append(asyncio.create_task(self._informers[resource].run(),
                                                       name=f"informer-{resource.plural}"))
        return self._informers[resource]

    def start(self) -> None:
        for resource, informer in self._informers.items():
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer-{resource.plural}"))

    async def wait_synced(self, *resources: ResourceType) -> None:
        await asyncio.gather(*(self.informer(r).synced.wait() for r in resources))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


@dataclass
class ControllerContext:
    client: ApiClient
    informers: InformerFactory
    recorder: EventRecorder
    options: dict[str, Any] = field(default_factory=dict)

    def option(self, name: str, default: Any) -> Any:
        value = self.options.get(name)
        return default if value is None else value
