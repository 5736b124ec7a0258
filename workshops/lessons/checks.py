"""Evaluating a step's checks against a cluster's stored state. Pure Python: no Django.

The objects come from an `ObjectSource`: the simulation's informer cache (the runner's hook, the
lesson tests) or a store (`StoreSource`, for an evaluation outside the loop). Since every write,
from the web terminal or a real kubectl, lands in the store, both count the same.

`evaluate_step(step, source, states, sim=None)` returns one `CheckResult` per check. Some checks
need to remember something from when the step began (`pod_replaced` remembers the pods there
were); each check's `state` dict is kept with the seat's progress and handed back next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine import labels
from engine.resources.tables import pod_status
from workshops.lessons import schema

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


class ObjectSource(Protocol):
    def list(self, kind: str, namespace: str | None = None) -> list[dict]: ...


class InformerSource:
    """The simulation's cache (`sim.cache`): no database reads."""

    def __init__(self, cache):
        self.cache = cache

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return self.cache.list(kind, namespace)


class StoreSource:
    """A store (MemoryStore, DjangoStore): one read per kind asked for, remembered for this evaluation."""

    def __init__(self, store):
        self.store = store
        self._cache: dict[tuple[str, str | None], list[dict]] = {}

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        key = (kind, namespace)
        if key not in self._cache:
            self._cache[key] = self.store.list(kind, namespace)[0]
        return self._cache[key]


@dataclass
class CheckResult:
    id: str
    passed: bool
    detail: dict  # {"en": ..., "ja": ...}: what was found, for the learner
    state: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "detail": self.detail}


def _detail(en: str, ja: str) -> dict:
    return {"en": en, "ja": ja}


def _namespace_of(kind: str, namespace: str) -> str | None:
    from engine.resources import registry

    return namespace if registry.by_kind(kind).namespaced else None


def _selected(check: schema.Selecting, source: ObjectSource) -> list[dict]:
    namespace = _namespace_of(check.kind, check.namespace)
    items = source.list(check.kind, namespace)
    if check.name:
        items = [o for o in items if o["metadata"]["name"] == check.name]
    if check.selector:
        selector = labels.parse(check.selector)
        items = [o for o in items if selector.matches(o["metadata"].get("labels"))]
    return items


def _matching(check, items: list[dict]) -> list[dict]:
    matchers = check.matchers
    return [o for o in items if all(m.matches(o) for m in matchers)]


def _what(check: schema.Selecting) -> str:
    if check.name:
        return f"{check.kind} {check.name}"
    if check.selector:
        return f"{check.kind} objects with {check.selector}"
    return f"{check.kind} objects"


def _first_failing(check, items: list[dict]) -> str:
    """For the learner: the first field matcher the closest object misses, and what it has instead."""
    for matcher in check.matchers:
        if not any(matcher.matches(o) for o in items):
            values = [v for o in items for v in matcher.values(o)]
            shown = ", ".join(str(v) for v in values[:3]) if values else "—"
            return f"{matcher.text} (now: {shown})"
    return ""


def evaluate_selecting(check, source: ObjectSource) -> CheckResult:
    items = _selected(check, source)
    good = _matching(check, items)
    what = _what(check)
    if isinstance(check, schema.ObjectAbsent):
        if good:
            names = ", ".join(o["metadata"]["name"] for o in good[:3])
            return CheckResult(check.id, False, _detail(f"still there: {names}", f"まだ残っています: {names}"))
        return CheckResult(check.id, True, _detail(f"no {what}", f"{what} はありません"))
    wanted = check.min if isinstance(check, schema.Count) else 1
    most = check.max if isinstance(check, schema.Count) else None
    if not items:
        return CheckResult(check.id, False, _detail(f"no {what} yet", f"{what} がまだありません"))
    passed = len(good) >= wanted and (most is None or len(good) <= most)
    if isinstance(check, schema.Count) or check.selector:
        en = f"{len(good)} of {wanted} {what} match" if not most else f"{len(good)} match (wanted {wanted}-{most})"
        ja = f"{len(good)}/{wanted} 件が条件を満たしています" if not most else f"{len(good)} 件 ({wanted}〜{most} 件が必要)"
    else:
        en, ja = (f"{what} is as asked", f"{what} は条件を満たしています") if passed else (f"{what} exists", f"{what} はあります")
    if not passed:
        missing = _first_failing(check, items)
        if missing:
            en, ja = f"{en}; waiting for {missing}", f"{ja}。待っている条件: {missing}"
    return CheckResult(check.id, passed, _detail(en, ja))


def _running(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return pod_status(pod) == "Running"


def evaluate_pod_replaced(check: schema.PodReplaced, source: ObjectSource, state: dict) -> CheckResult:
    selector = labels.parse(check.selector)
    pods = [p for p in source.list("Pod", check.namespace) if selector.matches(p["metadata"].get("labels"))]
    baseline = set(state.get("uids") or [])
    if not baseline:
        # Remember the pods there are; a deletion is only a deletion of one of these.
        uids = sorted(p["metadata"]["uid"] for p in pods if not p["metadata"].get("deletionTimestamp"))
        new_state = {"uids": uids}
        en = f"{len(uids)} pod(s) with {check.selector} to watch" if uids else f"no pod with {check.selector} yet"
        ja = f"{check.selector} の Pod {len(uids)} 個を見ています" if uids else f"{check.selector} の Pod がまだありません"
        return CheckResult(check.id, False, _detail(en, ja), new_state)
    live = {p["metadata"]["uid"]: p for p in pods}
    deleted = [uid for uid in baseline if uid not in live or live[uid]["metadata"].get("deletionTimestamp")]
    replacements = [p for uid, p in live.items() if uid not in baseline and _running(p)]
    state = {"uids": sorted(baseline), "deleted": bool(deleted) or bool(state.get("deleted"))}
    if not state["deleted"]:
        return CheckResult(check.id, False, _detail("no pod deleted yet", "まだ Pod は削除されていません"), state)
    if not replacements:
        return CheckResult(check.id, False, _detail("a pod was deleted; waiting for its replacement to run",
                                                    "Pod が削除されました。代わりの Pod が Running になるのを待っています"), state)
    name = replacements[0]["metadata"]["name"]
    return CheckResult(check.id, True, _detail(f"replaced: {name} is Running", f"{name} が代わりに Running になりました"),
                       state)


def _revision(obj: dict) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) or 0)
    except ValueError:
        return 0


def rollout_complete(deployment: dict) -> bool:
    """What `kubectl rollout status` waits for."""
    spec, status, meta = deployment.get("spec") or {}, deployment.get("status") or {}, deployment["metadata"]
    wanted = int(spec.get("replicas", 1))
    return (int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
            and int(status.get("updatedReplicas") or 0) >= wanted
            and int(status.get("replicas") or 0) <= int(status.get("updatedReplicas") or 0)
            and int(status.get("availableReplicas") or 0) >= wanted)


def evaluate_rollout(check: schema.RolloutRevision, source: ObjectSource) -> CheckResult:
    deployment = next((d for d in source.list("Deployment", check.namespace) if d["metadata"]["name"] == check.name),
                      None)
    if deployment is None:
        return CheckResult(check.id, False, _detail(f"no Deployment {check.name}", f"Deployment {check.name} がありません"))
    revision = _revision(deployment)
    missing = [m.text for m in check.matchers if not m.matches(deployment)]
    if revision != check.revision:
        return CheckResult(check.id, False, _detail(f"revision {revision} (wanted {check.revision})",
                                                    f"リビジョン {revision}（{check.revision} が必要）"))
    if missing:
        return CheckResult(check.id, False, _detail(f"revision {revision}; waiting for {missing[0]}",
                                                    f"リビジョン {revision}。待っている条件: {missing[0]}"))
    if check.complete and not rollout_complete(deployment):
        status = deployment.get("status") or {}
        want = (deployment.get("spec") or {}).get("replicas", 1)
        en = f"revision {revision}; rolling out: {status.get('updatedReplicas', 0)} of {want} updated"
        ja = f"リビジョン {revision}。ロールアウト中: {status.get('updatedReplicas', 0)}/{want} 更新済み"
        return CheckResult(check.id, False, _detail(en, ja))
    return CheckResult(check.id, True, _detail(f"revision {revision}, rollout complete",
                                               f"リビジョン {revision}、ロールアウト完了"))


def _ready_endpoint_count(source: ObjectSource, namespace: str, name: str) -> int:
    endpoints = next((e for e in source.list("Endpoints", namespace) if e["metadata"]["name"] == name), None)
    if endpoints is None:
        return 0
    return sum(len(subset.get("addresses") or []) for subset in endpoints.get("subsets") or [])


def evaluate_request(check: schema.RequestSucceeds, source: ObjectSource, sim=None) -> CheckResult:
    service = next((s for s in source.list("Service", check.namespace) if s["metadata"]["name"] == check.service), None)
    if service is None:
        return CheckResult(check.id, False, _detail(f"no Service {check.service}", f"Service {check.service} がありません"))
    answer = _send_request(sim, check) if sim is not None else None
    if answer is not None:
        status, why = answer
        if status is not None and 200 <= status < 300:
            return CheckResult(check.id, True, _detail(f"GET {check.path} through {check.service}: {status}",
                                                       f"{check.service} 経由の GET {check.path}: {status}"))
        shown = status if status is not None else why
        return CheckResult(check.id, False, _detail(f"GET {check.path} through {check.service}: {shown}",
                                                    f"{check.service} 経由の GET {check.path}: {shown}"))
    # No simulated network to send a request through: the Service's ready endpoints are what a request would reach.
    ready = _ready_endpoint_count(source, check.namespace, check.service)
    if ready:
        return CheckResult(check.id, True, _detail(
            f"{check.service} has {ready} ready endpoint(s) (checked the Endpoints; no request was sent)",
            f"{check.service} に Ready なエンドポイントが {ready} 個あります（Endpoints を確認。リクエストは送っていません）"))
    return CheckResult(check.id, False, _detail(f"{check.service} has no ready endpoints",
                                                f"{check.service} に Ready なエンドポイントがありません"))


def _send_request(sim, check: schema.RequestSucceeds) -> tuple[int | None, str] | None:
    """(status, reason) of a GET through the simulated network, as `kubectl proxy` reaches a Service in seed 003;
    None when the engine has no network model to ask."""
    try:
        from engine.network import traffic
    except ImportError:
        return None
    proxy = getattr(traffic, "service_proxy", None)
    if proxy is None:
        return None
    name = check.service if check.port is None else f"{check.service}:{check.port}"
    response = proxy(sim, check.namespace, name, check.path, record=False)
    return response.status, response.flow.get("reason") or response.flow.get("outcome") or ""


def evaluate_check(check, source: ObjectSource, state: dict | None = None, sim=None) -> CheckResult:
    state = dict(state or {})
    if isinstance(check, schema.PodReplaced):
        return evaluate_pod_replaced(check, source, state)
    if isinstance(check, schema.RolloutRevision):
        result = evaluate_rollout(check, source)
    elif isinstance(check, schema.RequestSucceeds):
        result = evaluate_request(check, source, sim)
    else:
        result = evaluate_selecting(check, source)
    result.state = state
    return result


def evaluate_step(step: schema.Step, source: ObjectSource, states: dict | None = None, sim=None) -> list[CheckResult]:
    """Every check of the step; `states` maps check ids to what each remembered last time."""
    states = states or {}
    return [evaluate_check(check, source, states.get(check.id), sim) for check in step.checks]


__all__ = ["CheckResult", "InformerSource", "ObjectSource", "StoreSource", "evaluate_check", "evaluate_step",
           "rollout_complete"]
