"""ImageLocality: prefer nodes that already hold the pod's images (from node.status.images), weighted by image
size and by how widely the image is spread (an image on every node says little), as kube-scheduler does."""

from __future__ import annotations

from typing import Any, ClassVar

from scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


class ImageLocality:
    name: ClassVar[str] = names.IMAGE_LOCALITY
    events: ClassVar[frozenset[Event]] = frozenset()

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if self.handle is None or not pod.images or not any(i in self.handle.cache.image_nodes for i in pod.images):
            return SKIP  # no node has any of the images: every node scores 0
        cache = self.handle.cache
        total = max(cache.num_nodes(), 1)
        state[self.name] = [(image, cache.image_nodes.get(image, 0) / total) for image in pod.images]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images = node.images
        total = 0
        for image, spread in state[self.name]:
            size = images.get(image)
            if size is not None:
                total += int(size * spread)
        max_threshold = MAX_CONTAINER_THRESHOLD * len(pod.images)
        total = min(max(total, MIN_THRESHOLD), max_threshold)
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)
