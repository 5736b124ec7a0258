"""Rollout progress (pkg/controller/deployment/progress.go): the Progressing condition and its deadline.

Progressing is True with reason NewReplicaSetCreated / FoundNewReplicaSet /
ReplicaSetUpdated while the rollout moves, NewReplicaSetAvailable once it is
complete, and False with ProgressDeadlineExceeded when nothing moved for
progressDeadlineSeconds (which makes `kubectl rollout status` fail).
"""

from __future__ import annotations

from engine.clock import parse_rfc3339
from engine.controllers import deployment_util as util


class ProgressMixin:
    def sync_rollout_status(self, all_rss: list[dict | None], new_rs: dict | None, d: dict) -> None:
        all_rss, new_rs = self.fresh(all_rss), self.fresh_one(new_rs)
        now = self.sim.clock.now()
        new_status = util.calculate_status(all_rss, new_rs, d, now)
        if not util.has_progress_deadline(d):
            util.remove_condition(new_status, util.PROGRESSING)

        current = util.get_condition(d.get("status"), util.PROGRESSING)
        complete_before = (int(new_status.get("replicas") or 0) == int(new_status.get("updatedReplicas") or 0)
                           and current is not None and current.get("reason") == util.NEW_RS_AVAILABLE_REASON)
        if util.has_progress_deadline(d) and not complete_before:
            target = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
            if util.deployment_complete(d, new_status):
                util.set_condition(new_status, util.new_condition(
                    util.PROGRESSING, "True", util.NEW_RS_AVAILABLE_REASON, f"{target} has successfully progressed.", now))
            elif util.deployment_progressing(d, new_status):
                # Progress moves lastUpdateTime even though the reason stays the same.
                cond = util.new_condition(util.PROGRESSING, "True", util.REPLICA_SET_UPDATED_REASON,
                                          f"{target} is progressing.", now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    util.remove_condition(new_status, util.PROGRESSING)
                util.set_condition(new_status, cond)
            elif util.deployment_timed_out(d, new_status, now):
                util.set_condition(new_status, util.new_condition(
                    util.PROGRESSING, "False", util.TIMED_OUT_REASON, f"{target} has timed out progressing.", now))

        failures = replica_failures(all_rss, new_rs)
        if failures:
            util.set_condition(new_status, failures[0])
        else:
            util.remove_condition(new_status, util.REPLICA_FAILURE)

        if (d.get("status") or {}) == new_status:
            self.requeue_stuck_deployment(d, new_status, now)
            return
        d["status"] = new_status
        self.persist(d)

    def requeue_stuck_deployment(self, d: dict, new_status: dict, now: float) -> None:
        """Come back when the progress deadline would pass, to mark the rollout as failed if nothing moved."""
        current = util.get_condition(d.get("status"), util.PROGRESSING)
        if not util.has_progress_deadline(d) or current is None:
            return
        if util.deployment_complete(d, new_status) or current.get("reason") == util.TIMED_OUT_REASON:
            return
        since = parse_rfc3339(current.get("lastUpdateTime"))
        if since is None:
            return
        after = since + int(d["spec"]["progressDeadlineSeconds"]) - now
        meta = d["metadata"]
        self.enqueue_after(("Deployment", meta["namespace"], meta["name"]), after + 1.0 if after >= 1.0 else 0.5)


def replica_failures(all_rss: list[dict], new_rs: dict | None) -> list[dict]:
    """ReplicaFailure conditions of the ReplicaSets (the new one's first), as Deployment conditions."""

    def converted(rs: dict) -> list[dict]:
        out = []
        for cond in (rs.get("status") or {}).get("conditions") or []:
            if cond.get("type") == util.REPLICA_FAILURE:
                out.append({"type": util.REPLICA_FAILURE, "status": cond.get("status"),
                            "lastUpdateTime": cond.get("lastTransitionTime"),
                            "lastTransitionTime": cond.get("lastTransitionTime"),
                            "reason": cond.get("reason"), "message": cond.get("message")})
        return out

    if new_rs is not None and (found := converted(new_rs)):
        return found
    return [c for rs in all_rss for c in converted(rs)]
