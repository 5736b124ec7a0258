"""The Recreate strategy (pkg/controller/deployment/recreate.go).

Scale every old ReplicaSet to zero, wait until none of their pods is left
(terminating ones included), then scale the new ReplicaSet up to the full count.
"""

from __future__ import annotations

from engine.controllers import deployment_util as util


class RecreateMixin:
    def rollout_recreate(self, d: dict, rs_list: list[dict], pod_map: dict[str, list[dict]]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        all_rss = old_rss + [new_rs]

        if self.scale_down_old_replica_sets_for_recreate(util.filter_active(old_rss), d):
            return self.sync_rollout_status(all_rss, new_rs, d)
        if old_pods_running(new_rs, self.fresh(old_rss), pod_map):
            return self.sync_rollout_status(all_rss, new_rs, d)

        if new_rs is None:
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
            all_rss = old_rss + [new_rs]
        self.scale_replica_set_and_record_event(new_rs, util.replicas_of(d), d)

        if util.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(self.fresh(old_rss), d)
        return self.sync_rollout_status(all_rss, new_rs, d)

    def scale_down_old_replica_sets_for_recreate(self, old_rss: list[dict], d: dict) -> bool:
        scaled = False
        for rs in old_rss:
            if util.replicas_of(rs) == 0:
                continue
            changed, _ = self.scale_replica_set_and_record_event(rs, 0, d)
            scaled = scaled or changed
        return scaled


def old_pods_running(new_rs: dict | None, old_rss: list[dict], pod_map: dict[str, list[dict]]) -> bool:
    """Whether any pod of an old ReplicaSet still exists and has not finished (terminating ones count)."""
    if util.actual_replica_count(old_rss) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for uid, pods in pod_map.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False
