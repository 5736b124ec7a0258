"""What the registry strategies of Jobs and DaemonSets do to an object before it is validated and stored.

- Job (pkg/registry/batch/job/strategy.go): on create the uid is known before
  validation, and unless `spec.manualSelector` is true the selector is
  generated from it: the pod template gets `batch.kubernetes.io/controller-uid`,
  `batch.kubernetes.io/job-name`, `controller-uid` and `job-name`, and the
  selector matches the uid. A Job created without labels of its own shows the
  template's (Kubernetes shares the map, so they include the generated ones).
- DaemonSet (pkg/registry/apps/daemonset/strategy.go): the template generation,
  which apps/v1 shows as the `deprecated.daemonset.template.generation`
  annotation, starts at 1 and goes up whenever the pod template changes. The
  controller labels its pods `pod-template-generation` with it.
"""

from __future__ import annotations

import uuid

from engine.resources.defaults import set_job_selector
from engine.resources.registry import KindInfo
from engine.store import copy_json

TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def prepare_for_create(info: KindInfo, obj: dict) -> None:
    if info.kind == "Job":
        _generate_job_selector(obj)
    elif info.kind == "DaemonSet":
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION_ANNOTATION] = "1"


def prepare_for_update(info: KindInfo, new: dict, old: dict) -> None:
    if info.kind != "DaemonSet":
        return
    old_value = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION) or "0"
    try:
        generation = int(old_value)
    except ValueError:
        generation = 0
    if ((new.get("spec") or {}).get("template")) != ((old.get("spec") or {}).get("template")):
        generation += 1
    new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION_ANNOTATION] = str(max(generation, 1))


def _generate_job_selector(job: dict) -> None:
    meta = job.setdefault("metadata", {})
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    template_labels = copy_json(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
    shared = not meta.get("labels") or meta.get("labels") == template_labels
    uid = meta.get("uid") or str(uuid.uuid4())
    meta["uid"] = uid
    set_job_selector(job, uid)
    if shared:
        meta["labels"] = copy_json(spec["template"]["metadata"]["labels"])


__all__ = ["TEMPLATE_GENERATION_ANNOTATION", "prepare_for_create", "prepare_for_update"]
