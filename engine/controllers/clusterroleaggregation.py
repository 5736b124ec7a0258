"""The clusterrole-aggregation controller (pkg/controller/clusterroleaggregation).

A ClusterRole with an `aggregationRule` gets, as its `rules`, the rules of every other ClusterRole its
selectors match, role by role in name order, each rule once. Any ClusterRole change re-syncs every
aggregated role, so labelling a new role `rbac.authorization.k8s.io/aggregate-to-view: "true"` extends
`view`, `edit` and `admin` in turn, as on a real cluster.
"""

from __future__ import annotations

import copy

from engine.controllers.base import Controller, Key
from engine.labels import from_label_selector


def _normal(rule: dict) -> dict:
    """Semantic equality: an empty list is the same as an absent one."""
    return {k: v for k, v in rule.items() if v not in (None, [], "")}


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation-controller"
    primary_kind = "ClusterRole"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)

    def handle(self, change) -> None:
        if change.kind != "ClusterRole":
            return
        for role in self.sim.cache.list("ClusterRole"):
            if isinstance(role.get("aggregationRule"), dict):
                self.enqueue_object(role)

    def sync(self, key: Key) -> None:
        _, _, name = key
        role = self.sim.cache.get("ClusterRole", "", name)
        if role is None or not isinstance(role.get("aggregationRule"), dict):
            return
        merged: list[dict] = []
        seen: list[dict] = []
        for selector in role["aggregationRule"].get("clusterRoleSelectors") or []:
            if not isinstance(selector, dict):
                continue
            match = from_label_selector(selector)
            chosen = [r for r in self.sim.cache.list("ClusterRole")
                      if r["metadata"]["name"] != name and match.matches(r["metadata"].get("labels"))]
            for other in sorted(chosen, key=lambda r: r["metadata"]["name"]):
                for rule in other.get("rules") or []:
                    if isinstance(rule, dict) and _normal(rule) not in seen:
                        seen.append(_normal(rule))
                        merged.append(copy.deepcopy(rule))
        current = [_normal(r) for r in role.get("rules") or [] if isinstance(r, dict)]
        if current == seen:
            return
        updated = copy.deepcopy(role)
        updated["rules"] = merged
        self.client.update(updated)


__all__ = ["ClusterRoleAggregationController"]
