"""The scheduler's plugin registry and its default profile (kube-scheduler 1.32's, less what we do not simulate).

Filters run in this order and a node's first rejection is its verdict; scores
are multiplied by their weight. Of the volume plugins only VolumeBinding is simulated (claims and Local volumes'
node affinity); volume limits and zones are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.scheduler.plugins import (
    balancedallocation,
    imagelocality,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesources_fit,
    nodeunschedulable,
    podtopologyspread,
    tainttoleration,
    volumebinding,
)

REGISTRY = {
    nodeunschedulable.NAME: nodeunschedulable.new,
    nodename.NAME: nodename.new,
    tainttoleration.NAME: tainttoleration.new,
    volumebinding.NAME: volumebinding.new,
    nodeaffinity.NAME: nodeaffinity.new,
    nodeports.NAME: nodeports.new,
    noderesources_fit.NAME: noderesources_fit.new,
    podtopologyspread.NAME: podtopologyspread.new,
    interpodaffinity.NAME: interpodaffinity.new,
    balancedallocation.NAME: balancedallocation.new,
    imagelocality.NAME: imagelocality.new,
}


@dataclass(frozen=True)
class PluginConfig:
    name: str
    weight: int = 1  # score weight; 0 for filter-only plugins


# The default profile: filter order as kube-scheduler runs them, and the default score weights.
DEFAULT_PROFILE: tuple[PluginConfig, ...] = (
    PluginConfig(nodeunschedulable.NAME, 0),
    PluginConfig(nodename.NAME, 0),
    PluginConfig(tainttoleration.NAME, 3),
    PluginConfig(nodeaffinity.NAME, 2),
    PluginConfig(nodeports.NAME, 0),
    PluginConfig(noderesources_fit.NAME, 1),
    PluginConfig(volumebinding.NAME, 0),
    PluginConfig(podtopologyspread.NAME, 2),
    PluginConfig(interpodaffinity.NAME, 2),
    PluginConfig(balancedallocation.NAME, 1),
    PluginConfig(imagelocality.NAME, 1),
)


def build(profile=DEFAULT_PROFILE, handle=None) -> list[tuple[object, int]]:
    """Instantiate a profile: (plugin, weight) pairs."""
    return [(REGISTRY[cfg.name](handle), cfg.weight) for cfg in profile]
