"""ImageLocality: prefer nodes that already have the pod's images, weighted by how widely they are spread."""

from __future__ import annotations

from engine.kubelet.images import normalize_reference
from engine.scheduler.framework import MAX_NODE_SCORE, SKIP, SUCCESS, NodeInfo, Plugin, PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB  # smaller images are not worth preferring
MAX_CONTAINER_THRESHOLD = 1000 * MB


class ImageLocality(Plugin):
    name = NAME
    has_score = True

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]):
        spec = pod.pod.get("spec") or {}
        containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
        names = [normalize_reference(c.get("image") or "") for c in containers]
        state[NAME] = (names, len(spec.get("containers") or []))
        spread = self.handle.image_spread if self.handle is not None else None
        if spread is not None and not any(name in spread for name in names):
            return SKIP  # no node has any of the images
        return SUCCESS

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        images, containers = state.get(NAME) or ([], 1)
        if not node.images or not images:
            return 0
        total_nodes = max(1, len(self.handle.nodes)) if self.handle is not None else 1
        spread = self.handle.image_spread if self.handle is not None else {}
        total = 0
        for image in images:
            size = node.images.get(image)
            if size:
                total += int(size * spread.get(image, 1) / total_nodes)
        high = MAX_CONTAINER_THRESHOLD * max(1, containers)
        total = min(max(total, MIN_THRESHOLD), high)
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (high - MIN_THRESHOLD)


def new(handle=None) -> Plugin:
    return ImageLocality(handle)
