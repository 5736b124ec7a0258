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
        largest = getattr(self.handle, "image_max_size", None)
        if spread is not None and largest is not None:
            # No node can score above 0 when even the largest size of each image, spread as it is, stays under
            # the threshold (small images such as pause): each node's sum is at most this one.
            total_nodes = max(1, len(self.handle.nodes))
            best = sum(int(largest.get(name, 0) * spread.get(name, 1) / total_nodes) for name in names)
            if best <= MIN_THRESHOLD:
                return SKIP
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

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        # `score` with the per-pod lookups done once (the same integer sums per node).
        images, containers = state.get(NAME) or ([], 1)
        if not images:
            return [0] * len(nodes)
        total_nodes = max(1, len(self.handle.nodes)) if self.handle is not None else 1
        spread = self.handle.image_spread if self.handle is not None else {}
        counted = [(image, spread.get(image, 1)) for image in images]
        high = MAX_CONTAINER_THRESHOLD * max(1, containers)
        scores = []
        for node in nodes:
            present = node.images
            if not present:
                scores.append(0)
                continue
            total = 0
            for image, holders in counted:
                size = present.get(image)
                if size:
                    total += int(size * holders / total_nodes)
            total = min(max(total, MIN_THRESHOLD), high)
            scores.append(MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (high - MIN_THRESHOLD))
        return scores


def new(handle=None) -> Plugin:
    return ImageLocality(handle)
