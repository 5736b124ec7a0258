"""Kubelet timing profiles: how long each step of a pod's life takes. `Simulation.profile` picks one.

- `realistic` (lessons, the default): image pulls take what the catalog says for the image
  (nginx ~5 s, node-hello ~70 s on a fresh node); a pulled image is cached on its node, so the
  next pod there starts in 1-3 s; small steps get ±30 % seeded jitter.
- `fast` (tests): every kubelet step takes a fraction of a second and there is no jitter.
  What containers themselves do (exit after 5 s, back-off 10 s, 20 s, 40 s ...) keeps real
  time in both, since that is what lessons and tests look at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    accept: float  # bound -> the kubelet writes ContainerCreating
    sandbox: float  # pod sandbox and its network set up
    pull: float | None  # every pull takes this long; None: the image's own pull time from the catalog
    pull_cached: float  # imagePullPolicy Always with the image on the node: only the manifest is checked
    pull_fail: float  # an unknown image fails after this long
    create: float  # Created -> Started
    restart: float  # the kubelet notices an exited container and restarts it (added to any back-off)
    notice: float  # an exited container's status reaches the API / back-off is reported
    kill: float  # deletionTimestamp -> Killing
    remove: float  # containers stopped -> the pod is removed
    jitter: float  # +- fraction applied to the small steps above (seeded per pod)


REALISTIC = Profile("realistic", accept=0.3, sandbox=1.0, pull=None, pull_cached=0.9, pull_fail=1.8, create=0.4,
                    restart=1.0, notice=0.6, kill=0.05, remove=0.6, jitter=0.3)
FAST = Profile("fast", accept=0.1, sandbox=0.1, pull=0.5, pull_cached=0.1, pull_fail=0.3, create=0.1, restart=0.1,
               notice=0.1, kill=0.0, remove=0.1, jitter=0.0)

PROFILES = {p.name: p for p in (REALISTIC, FAST)}


def get(name: str | None) -> Profile:
    return PROFILES.get(name or "realistic", REALISTIC)
