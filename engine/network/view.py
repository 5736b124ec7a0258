"""The cluster as the network sees it, for a caller that has the store but not the running Simulation.

The web terminal runs kubectl in a web process; in the scaled-out configuration the cluster's
Simulation runs in a worker process, and even in the embedded one the terminal must not read the
loop's informer from another thread. A pod shell's curl, wget and nslookup still need CoreDNS's
records, kube-proxy's rules and the listening containers: `NetworkView` offers what `engine.network`
reads from a Simulation (`cache`, `clock`, `network_config`, `seed`, `controllers`) over its own
informer, loaded from the store and brought up to date before each command (`refresh`).

With no kube-proxy controller in the view, kube-proxy's rules are computed from the stored
EndpointSlices on the spot: what a kube-proxy that has just synced programs. Round-robin positions,
session affinity and DNS rotation live as long as the view does (one shell session), as a node's
kernel keeps them between connections. The view never writes to the store.
"""

from __future__ import annotations

from engine.informer import Informer
from engine.network.config import NetworkConfig
from engine.store import Store


class FixedClock:
    """The moment a shell command runs at (the terminal's virtual now)."""

    def __init__(self, now: float):
        self._now = float(now)

    def now(self) -> float:
        return self._now

    def set(self, now: float) -> None:
        self._now = max(self._now, float(now))


class NetworkView:
    """A read-only stand-in for a Simulation, for `engine.network`'s dns and traffic functions."""

    controllers: tuple = ()  # no kubelet, no kube-proxy: their state is derived from stored objects

    def __init__(self, store: Store, now: float, network_config: NetworkConfig | None = None):
        self.store = store
        self.clock = FixedClock(now)
        self.network_config = network_config or NetworkConfig()
        # Each view draws its own random choices (iptables' statistic match, the cloud load balancer):
        # seeded from the moment it was opened, so two shells do not repeat each other's picks.
        self.seed = f"view/{now!r}"
        self.cache = Informer(store)
        self.cache.resync()

    def refresh(self, now: float) -> None:
        """Take in what changed in the store since the last look, and move to `now`."""
        self.cache.poll()
        self.clock.set(now)


__all__ = ["FixedClock", "NetworkView"]
