"""What every Deployment sync path shares (pkg/controller/deployment/sync.go).

Finding the new and old ReplicaSets and keeping revisions in order, creating
the new ReplicaSet, scaling a ReplicaSet with its Event, proportional scaling
when `spec.replicas` changes mid-rollout or while paused, cleaning up old
revisions, and writing the status.

These are methods of DeploymentController (engine.controllers.deployment),
kept in a mixin so each file holds one concern, as Kubernetes' files do.
"""

from __future__ import annotations

import contextlib

from engine import errors
from engine.controllers import deployment_util as util
from engine.controllers.replicaset import is_controlled_by, new_controller_ref
from engine.events import NORMAL, WARNING
from engine.store import copy_json

SCALING_REPLICA_SET = "ScalingReplicaSet"


class SyncMixin:
    # Provided by DeploymentController.
    sim: object
    client: object
    event_component: str

    # --- writes ---------------------------------------------------------------------------------
    def persist(self, d: dict, metadata_changed: bool = False) -> None:
        """Write the Deployment's status (and first its annotations, when the revision changed).

        Kubernetes lets a status update carry the revision annotation; our status
        subresource keeps only status, so annotations go by a main-resource update.
        """
        if metadata_changed:
            stored = self.client.update(copy_json(d))
            d["metadata"] = copy_json(stored["metadata"])
        stored = self.client.update_status(d)
        d["metadata"] = copy_json(stored["metadata"])
        d["status"] = copy_json(stored.get("status") or {})

    def fresh(self, rss: list[dict | None]) -> list[dict]:
        """The cache's current copies of these ReplicaSets (it holds our own writes already); gone ones drop out."""
        out = []
        for rs in rss:
            if rs is None:
                continue
            meta = rs["metadata"]
            current = self.sim.cache.get("ReplicaSet", meta.get("namespace", ""), meta["name"])
            if current is not None and current["metadata"]["uid"] == meta["uid"]:
                out.append(current)
        return out

    def fresh_one(self, rs: dict | None) -> dict | None:
        found = self.fresh([rs])
        return found[0] if found else None

    # --- ReplicaSets and revisions --------------------------------------------------------------
    def get_all_replica_sets_and_sync_revision(self, d: dict, rs_list: list[dict], create: bool):
        """(new ReplicaSet or None, all old ReplicaSets), the new one's revision raised above the old ones'."""
        _, all_old = util.find_old_replica_sets(d, rs_list)
        new_rs = self.get_new_replica_set(d, rs_list, all_old, create)
        return new_rs, all_old

    def get_new_replica_set(self, d: dict, rs_list: list[dict], old_rss: list[dict], create: bool) -> dict | None:
        existing = util.find_new_replica_set(d, rs_list)
        new_revision = str(util.max_revision(old_rss) + 1)
        now = self.sim.clock.now()
        spec = d.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)

        if existing is not None:
            rs_copy = copy_json(existing)
            annotations_updated = util.set_new_replica_set_annotations(d, rs_copy, new_revision, True)
            if annotations_updated or int(rs_copy["spec"].get("minReadySeconds") or 0) != min_ready:
                if min_ready:
                    rs_copy["spec"]["minReadySeconds"] = min_ready
                else:
                    rs_copy["spec"].pop("minReadySeconds", None)
                return copy_json(self.client.update(rs_copy))
            revision_changed = util.set_deployment_revision(
                d, (rs_copy["metadata"].get("annotations") or {}).get(util.REVISION_ANNOTATION, new_revision))
            status_changed = False
            status = d.setdefault("status", {})
            if util.has_progress_deadline(d) and util.get_condition(status, util.PROGRESSING) is None:
                util.set_condition(status, util.new_condition(
                    util.PROGRESSING, "True", util.FOUND_NEW_RS_REASON,
                    f'Found new replica set "{rs_copy["metadata"]["name"]}"', now))
                status_changed = True
            if revision_changed or status_changed:
                self.persist(d, metadata_changed=revision_changed)
            return rs_copy

        if not create:
            return None
        new_rs = self.new_replica_set_for(d)
        name = new_rs["metadata"]["name"]
        new_rs["spec"]["replicas"] = util.new_rs_new_replicas(d, old_rss + [new_rs], new_rs)
        util.set_new_replica_set_annotations(d, new_rs, new_revision, False)
        already_exists = False
        try:
            created = self.client.create(new_rs)
        except errors.ApiError as exc:
            if exc.reason == "AlreadyExists":
                found = self.sim.cache.get("ReplicaSet", d["metadata"]["namespace"], name)
                if found is not None and is_controlled_by(found, d) and util.equal_ignore_hash(
                        spec.get("template") or {}, (found.get("spec") or {}).get("template") or {}):
                    created, already_exists = found, True
                else:
                    # A hash collision: count it so the next hash differs, and try again.
                    status = d.setdefault("status", {})
                    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                    self.persist(d)
                    raise
            elif exc.code == 403 and "being terminated" in exc.message:
                raise
            else:
                message = f'Failed to create new replica set "{name}": {exc.message}'
                if util.has_progress_deadline(d):
                    util.set_condition(d.setdefault("status", {}), util.new_condition(
                        util.PROGRESSING, "False", util.FAILED_RS_CREATE_REASON, message, now))
                    with contextlib.suppress(errors.ApiError):  # the event reports the bigger problem
                        self.persist(d)
                self.sim.events.record(d, WARNING, util.FAILED_RS_CREATE_REASON, message, self.event_component)
                raise
        replicas = util.replicas_of(created)
        if not already_exists and replicas > 0:
            self.sim.events.record(d, NORMAL, SCALING_REPLICA_SET,
                                   f"Scaled up replica set {name} from 0 to {replicas}", self.event_component)
        revision_changed = util.set_deployment_revision(d, new_revision)
        status_changed = False
        if not already_exists and util.has_progress_deadline(d):
            util.set_condition(d.setdefault("status", {}), util.new_condition(
                util.PROGRESSING, "True", util.NEW_REPLICA_SET_REASON, f'Created new replica set "{name}"', now))
            status_changed = True
        if revision_changed or status_changed:
            self.persist(d, metadata_changed=revision_changed)
        return copy_json(created)

    @staticmethod
    def new_replica_set_for(d: dict) -> dict:
        """The ReplicaSet for the Deployment's current template: named `<deployment>-<pod-template-hash>`."""
        spec = d.get("spec") or {}
        template = copy_json(spec.get("template") or {})
        pod_hash = util.compute_hash(template, (d.get("status") or {}).get("collisionCount"))
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), util.POD_TEMPLATE_HASH_LABEL: pod_hash}
        selector = copy_json(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), util.POD_TEMPLATE_HASH_LABEL: pod_hash}
        rs_spec: dict = {"replicas": 0, "selector": selector, "template": template}
        if spec.get("minReadySeconds"):
            rs_spec["minReadySeconds"] = int(spec["minReadySeconds"])
        meta = d["metadata"]
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
                         "labels": dict(template_meta["labels"]), "ownerReferences": [new_controller_ref(d)]},
            "spec": rs_spec,
        }

    # --- scaling --------------------------------------------------------------------------------
    def scale_replica_set_and_record_event(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if util.replicas_of(rs) == new_scale:
            return False, rs
        operation = "up" if util.replicas_of(rs) < new_scale else "down"
        return self.scale_replica_set(rs, new_scale, d, operation)

    def scale_replica_set(self, rs: dict, new_scale: int, d: dict, operation: str) -> tuple[bool, dict]:
        """Set a ReplicaSet's size and its desired/max-replicas annotations; record ScalingReplicaSet."""
        old_scale = util.replicas_of(rs)
        size_changed = old_scale != new_scale
        desired, maximum = util.replicas_of(d), util.replicas_of(d) + util.max_surge(d)
        if not size_changed and not util.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        rs_copy = copy_json(rs)
        rs_copy["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(rs_copy, desired, maximum)
        updated = copy_json(self.client.update(rs_copy))
        if size_changed:
            operation = operation or ("up" if old_scale < new_scale else "down")
            self.sim.events.record(d, NORMAL, SCALING_REPLICA_SET,
                                   f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} "
                                   f"to {new_scale}", self.event_component)
        return size_changed, updated

    def scale(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        """Scale for a change of spec.replicas: one active ReplicaSet takes it all, else share it out."""
        target = util.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if util.replicas_of(target) != util.replicas_of(d):
                self.scale_replica_set_and_record_event(target, util.replicas_of(d), d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.filter_active(old_rss):
                self.scale_replica_set_and_record_event(old, 0, d)
            return
        if not util.is_rolling_update(d):
            return
        # Old ReplicaSets still have pods and the new one is not saturated: scale them all in proportion.
        all_rss = util.filter_active(old_rss + [new_rs])
        replicas = util.replicas_of(d)
        allowed = replicas + util.max_surge(d) if replicas > 0 else 0
        to_add = allowed - util.replica_count(all_rss)
        operation = ""
        if to_add > 0:
            all_rss, operation = util.by_size_newer(all_rss), "up"
        elif to_add < 0:
            all_rss, operation = util.by_size_older(all_rss), "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add:
                share = util.proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = util.replicas_of(rs) + share
                added += share
            else:
                sizes[rs["metadata"]["name"]] = util.replicas_of(rs)
        for index, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if index == 0 and to_add:
                # Leftovers go to the largest ReplicaSet.
                sizes[name] = max(0, sizes[name] + to_add - added)
            self.scale_replica_set(rs, sizes[name], d, operation)

    def is_scaling_event(self, d: dict, rs_list: list[dict]) -> bool:
        """spec.replicas differs from what an active ReplicaSet was annotated with."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        for rs in util.filter_active(old_rss + [new_rs]):
            desired = util.desired_replicas_annotation(rs)
            if desired is not None and desired != util.replicas_of(d):
                return True
        return False

    # --- the paused and scaling path ------------------------------------------------------------
    def sync_scaling(self, d: dict, rs_list: list[dict]) -> None:
        """Reconcile a scaling event or a paused Deployment: sizes only, no rollout progress (dc.sync)."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            self.cleanup_deployment(self.fresh(old_rss), d)
        self.sync_deployment_status(old_rss + [new_rs], new_rs, d)

    def sync_status_only(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        self.sync_deployment_status(old_rss + [new_rs], new_rs, d)

    def check_paused_conditions(self, d: dict) -> None:
        """Mark Progressing Unknown while paused, so a long pause is not taken for a stuck rollout."""
        if not util.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = util.get_condition(status, util.PROGRESSING)
        if cond is not None and cond.get("reason") == util.TIMED_OUT_REASON:
            return
        paused = bool((d.get("spec") or {}).get("paused"))
        paused_recorded = cond is not None and cond.get("reason") == util.PAUSED_DEPLOY_REASON
        now = self.sim.clock.now()
        if paused and not paused_recorded:
            util.set_condition(status, util.new_condition(util.PROGRESSING, "Unknown", util.PAUSED_DEPLOY_REASON,
                                                          "Deployment is paused", now))
        elif not paused and paused_recorded:
            util.set_condition(status, util.new_condition(util.PROGRESSING, "Unknown", util.RESUMED_DEPLOY_REASON,
                                                          "Deployment is resumed", now))
        else:
            return
        self.persist(d)

    def cleanup_deployment(self, old_rss: list[dict], d: dict) -> None:
        """Delete the oldest empty ReplicaSets beyond revisionHistoryLimit."""
        if not util.has_revision_history_limit(d):
            return
        cleanable = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
        diff = len(cleanable) - int(d["spec"]["revisionHistoryLimit"])
        if diff <= 0:
            return
        for rs in util.by_revision(cleanable)[:diff]:
            meta = rs["metadata"]
            if util.status_int(rs, "replicas") != 0 or util.replicas_of(rs) != 0 \
                    or meta.get("generation", 0) > util.status_int(rs, "observedGeneration"):
                continue
            try:
                self.client.delete("ReplicaSet", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise

    def sync_deployment_status(self, all_rss: list[dict | None], new_rs: dict | None, d: dict) -> None:
        new_status = util.calculate_status(self.fresh(all_rss), self.fresh_one(new_rs), d, self.sim.clock.now())
        if (d.get("status") or {}) == new_status:
            return
        d["status"] = new_status
        self.persist(d)
