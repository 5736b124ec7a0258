"""The RollingUpdate strategy (pkg/controller/deployment/rolling.go).

Each sync does one of three things and then writes the status: scale the new
ReplicaSet up as far as maxSurge allows; or scale old ReplicaSets down as far
as maxUnavailable allows (unhealthy replicas first); or, once the rollout is
complete, clean up old revisions.

    total pods       <= replicas + maxSurge        (maxSurge rounds up)
    available pods   >= replicas - maxUnavailable  (maxUnavailable rounds down)
"""

from __future__ import annotations

from engine.controllers import deployment_util as util


class RollingMixin:
    def rollout_rolling(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        all_rss = old_rss + [new_rs]

        if self.reconcile_new_replica_set(all_rss, new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)

        new_rs = self.fresh_one(new_rs) or new_rs
        if self.reconcile_old_replica_sets(all_rss, util.filter_active(old_rss), new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)

        if util.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(self.fresh(old_rss), d)
        return self.sync_rollout_status(all_rss, new_rs, d)

    def reconcile_new_replica_set(self, all_rss: list[dict], new_rs: dict, d: dict) -> bool:
        """Scale the new ReplicaSet up within maxSurge (or down, if it has more than the Deployment wants)."""
        replicas = util.replicas_of(d)
        current = util.replicas_of(new_rs)
        if current == replicas:
            return False
        if current > replicas:
            scaled, _ = self.scale_replica_set_and_record_event(new_rs, replicas, d)
            return scaled
        scaled, _ = self.scale_replica_set_and_record_event(new_rs, util.new_rs_new_replicas(d, all_rss, new_rs), d)
        return scaled

    def reconcile_old_replica_sets(self, all_rss: list[dict], old_rss: list[dict], new_rs: dict, d: dict) -> bool:
        """Scale old ReplicaSets down without going below replicas - maxUnavailable available pods.

        maxScaledDown = allPods - minAvailable - newRSUnavailable: the new ReplicaSet's
        unavailable pods count against us, so a crash-looping rollout never eats the old pods.
        """
        if util.replica_count(old_rss) == 0:
            return False
        all_pods = util.replica_count(all_rss)
        min_available = util.replicas_of(d) - util.max_unavailable(d)
        new_unavailable = util.replicas_of(new_rs) - util.status_int(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # Unhealthy replicas first: deleting them costs no availability, and they would block the rollout.
        old_rss, cleaned = self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        scaled = self.scale_down_old_replica_sets_for_rolling_update(old_rss + [new_rs], old_rss, d)
        return cleaned + scaled > 0

    def cleanup_unhealthy_replicas(self, old_rss: list[dict], d: dict, max_cleanup: int) -> tuple[list[dict], int]:
        old_rss = util.by_creation(old_rss)
        total = 0
        for index, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            replicas = util.replicas_of(rs)
            available = util.status_int(rs, "availableReplicas")
            if replicas == 0 or replicas <= available:
                continue  # nothing unhealthy here
            count = min(max_cleanup - total, replicas - available)
            _, old_rss[index] = self.scale_replica_set_and_record_event(rs, replicas - count, d)
            total += count
        return old_rss, total

    def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list[dict], old_rss: list[dict], d: dict) -> int:
        min_available = util.replicas_of(d) - util.max_unavailable(d)
        available = util.available_replica_count(all_rss)
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in util.by_creation(old_rss):
            if total >= budget:
                break
            replicas = util.replicas_of(rs)
            if replicas == 0:
                continue
            count = min(replicas, budget - total)
            self.scale_replica_set_and_record_event(rs, replicas - count, d)
            total += count
        return total
