"""Seats, progress, resets, reclaiming, quotas: the workshop services against Django-backed clusters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cluster.models import Cluster
from cluster.runtime import api_for
from engine import errors
from tests.workshop.conftest import run_step_solution, simulate
from workshops import services
from workshops.models import Seat, SeatEvent, StepProgress, Workshop, hash_token, normalise_code

pytestmark = pytest.mark.django_db


def names(api, kind: str, namespace: str | None = None) -> list[str]:
    return sorted(o["metadata"]["name"] for o in api.store.list(kind, namespace)[0])


def test_a_join_code_reads_off_a_projector(workshop):
    code = workshop.join_code
    assert len(code) == 6 and not set(code) & set("01OIL")
    assert normalise_code(f" {code[:3].lower()}-{code[3:]} ") == code
    assert workshop.display_code == f"{code[:3]}-{code[3:]}"


def test_joining_gives_a_seat_its_own_fresh_cluster_of_the_workshop_shape(workshop):
    seat, token = services.join(workshop, "  Aiko  ")
    assert seat.display_name == "Aiko"
    assert seat.token_hash == hash_token(token) and token not in seat.token_hash
    assert Seat.for_token(token) == seat
    api = api_for(seat.cluster)
    assert names(api, "Node") == ["controlplane", "node-1", "node-2"]
    node = api.get("Node", "", "node-1")
    assert node["status"]["capacity"]["cpu"] == "1"  # small workers
    assert seat.current_step == 0
    kinds = list(SeatEvent.objects.filter(seat=seat).values_list("kind", flat=True))
    assert kinds == ["joined", "cluster_provisioned", "step_started"]
    other, _ = services.join(workshop, "Ben")
    assert other.cluster != seat.cluster


def test_a_closed_or_full_workshop_takes_nobody(workshop):
    workshop.max_seats = 1
    workshop.save()
    services.join(workshop, "Aiko")
    with pytest.raises(services.WorkshopFull):
        services.join(workshop, "Ben")
    services.close(workshop)
    with pytest.raises(services.WorkshopClosed):
        services.join(Workshop.objects.get(pk=workshop.pk), "Chie")


def test_the_lesson_pack_played_on_a_seats_django_cluster_turns_every_step_green(workshop):
    seat, _ = services.join(workshop, "Aiko")
    loop = simulate(seat.cluster)
    steps = workshop.pack().steps
    for _ in steps:  # a step whose checks already hold when it begins passes at once: fewer rounds than steps
        if seat.current_step == len(steps):
            break
        key = steps[seat.current_step].key
        assert run_step_solution(loop, seat), (key, StepProgress.objects.get(seat=seat, step_key=key).checks)
    assert seat.current_step == len(steps)
    rows = StepProgress.objects.filter(seat=seat).order_by("step_index")
    assert [r.step_key for r in rows] == [ref.key for ref in steps]
    assert all(r.first_passed_at for r in rows)
    assert all(check["passed"] for r in rows for check in r.checks.values())
    passed = SeatEvent.objects.filter(seat=seat, kind="step_passed").values_list("step_key", flat=True)
    assert list(passed) == [ref.key for ref in steps]


def test_a_check_fails_with_what_it_waits_for(workshop):
    seat, _ = services.join(workshop, "Aiko")  # joining evaluates the first step once
    progress = StepProgress.objects.get(seat=seat, step_index=0)
    assert not progress.passed
    details = {cid: r["detail"]["en"] for cid, r in progress.checks.items()}
    assert details["deployment"] == "no Deployment bootcamp yet"
    assert services.evaluate_seat(seat) is False  # nothing changed: nothing written


def test_reset_rebuilds_the_cluster_at_the_start_of_a_step_under_the_same_name_and_key(workshop):
    seat, _ = services.join(workshop, "Aiko")
    loop = simulate(seat.cluster)
    assert run_step_solution(loop, seat)
    assert run_step_solution(loop, seat)
    old = Cluster.objects.get(pk=seat.cluster_id)
    api_for(old).create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray"}}, "default")
    fresh = services.reset_seat(seat, 1)
    assert fresh.pk != old.pk and not Cluster.objects.filter(pk=old.pk).exists()
    assert (fresh.name, fresh.access_key) == (old.name, old.access_key)
    api = api_for(fresh)
    assert names(api, "ConfigMap", "default") == []  # the learner's extras are gone
    deployment = api.get("Deployment", "default", "bootcamp")  # step 1's solution is in place
    assert deployment["spec"]["replicas"] == 2
    seat.refresh_from_db()
    assert seat.current_step == 1 and seat.cluster == fresh
    assert list(StepProgress.objects.filter(seat=seat, first_passed_at__isnull=False)
                .values_list("step_index", flat=True)) == [0]
    assert SeatEvent.objects.filter(seat=seat, kind="reset", step_key=workshop.pack().step(1).key).exists()


def test_idle_seats_lose_their_clusters_and_get_a_new_one_back(workshop):
    idle, _ = services.join(workshop, "Aiko")
    here, _ = services.join(workshop, "Ben")
    Seat.objects.filter(pk=idle.pk).update(last_seen=timezone.now() - timedelta(hours=5))
    cluster_pk = idle.cluster_id
    reclaimed = services.reclaim_idle(idle=4 * 3600)
    assert [s.pk for s in reclaimed] == [idle.pk]
    idle.refresh_from_db()
    assert idle.cluster is None and idle.reclaimed_at is not None
    assert not Cluster.objects.filter(pk=cluster_pk).exists()
    assert Seat.objects.get(pk=here.pk).cluster_id is not None
    services.provision(idle)
    assert names(api_for(idle.cluster), "Node") == ["controlplane", "node-1", "node-2"]


def test_pausing_the_workshop_pauses_every_seats_clock(workshop):
    a, _ = services.join(workshop, "Aiko")
    b, _ = services.join(workshop, "Ben")
    assert services.set_workshop_clock(workshop, paused=True) == 2
    assert set(Cluster.objects.filter(pk__in=[a.cluster_id, b.cluster_id]).values_list("paused", flat=True)) == {True}
    late, _ = services.join(workshop, "Chie")  # joins a paused class: paused too
    assert late.cluster.paused
    services.set_workshop_clock(workshop, paused=False)
    assert not Cluster.objects.filter(seat__workshop=workshop, paused=True).exists()


def test_a_seats_cluster_has_a_quota_and_says_so_as_kube_apiserver_does(workshop, settings):
    settings.KUBEDOJO_SEAT_LIMITS = {"pods": 1}
    seat, _ = services.join(workshop, "Aiko")
    api = api_for(seat.cluster)

    def pod(name):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}

    api.create(pod("one"), "default")
    with pytest.raises(errors.ApiError) as info:
        api.create(pod("two"), "default")
    assert info.value.code == 403
    assert info.value.message == ('pods "two" is forbidden: exceeded quota: kubedojo-seat, requested: pods=1, '
                                  'used: pods=1, limited: pods=1')
    other = Cluster.objects.create(name="not-a-seat")
    api_for(other).create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    for name in ("one", "two"):
        api_for(other).create(pod(name), "default")  # only seats are limited


def test_whether_a_cluster_is_a_seats_is_remembered_and_forgotten_when_seats_change(workshop,
                                                                                   django_assert_num_queries):
    from workshops import limits

    other = Cluster.objects.create(name="not-a-seat")
    assert limits.quota_for(other) is None
    with django_assert_num_queries(0):
        assert limits.quota_for(other) is None  # asked by every API request: remembered
    seat, _ = services.join(workshop, "Aiko")
    Seat.objects.filter(pk=seat.pk).update(cluster=other)
    limits.forget_seat(other.pk)
    assert limits.quota_for(other) is not None
    seat.refresh_from_db()
    services.reclaim(seat)  # its cluster is deleted: no longer a seat's
    assert limits.quota_for(Cluster.objects.create(name="fresh")) is None
    assert not limits._seat_cache or all(found is False for found, _ in limits._seat_cache.values())


def test_the_dashboard_puts_stuck_learners_first(workshop):
    fast, _ = services.join(workshop, "Aiko")
    stuck, _ = services.join(workshop, "Ben")
    Seat.objects.filter(pk=stuck.pk).update(step_started_at=timezone.now() - timedelta(minutes=20))
    loop = simulate(fast.cluster)
    assert run_step_solution(loop, fast)
    tiles = services.dashboard(Workshop.objects.get(pk=workshop.pk))["tiles"]
    assert [t["name"] for t in tiles] == ["Ben", "Aiko"]
    ben, aiko = tiles
    assert (ben["current"], aiko["current"], aiko["passed_steps"]) == (0, 1, 1)
    assert [n["name"] for n in aiko["thumbnail"]["nodes"]] == ["controlplane", "node-1", "node-2"]
    assert sorted(s for n in aiko["thumbnail"]["nodes"] for s in n["pods"]) == ["Running", "Running"]
    assert [c["passed"] for c in ben["checks"]] == [False] * len(ben["checks"])


def test_the_checker_publishes_what_changed_to_the_seat_and_the_dashboard(workshop):
    from workshops.checker import SeatChecker
    from workshops.lessons import solutions

    seat, _ = services.join(workshop, "Aiko")
    loop = simulate(seat.cluster)
    checker = SeatChecker(interval=0.0)
    assert [(g, m["type"]) for g, m in checker(loop, None)] == [(f"workshop_{workshop.pk}", "seat.tile")]
    assert checker(loop, None) == []  # nothing changed: nothing sent
    solution = workshop.pack().step(0).step.solution
    solutions.run(loop.sim.api, solution.commands, solution.files)
    loop.sim.tick(1.0)
    sent = [(g, m["type"]) for g, m in checker(loop, None)]
    assert sent == [(f"seat_{seat.pk}", "seat.progress"), (f"workshop_{workshop.pk}", "seat.tile")]
    assert SeatChecker(interval=0.0)(simulate(Cluster.objects.create(name="other")), None) is None


def test_the_app_follows_the_loop_through_the_runtime_hooks(workshop, settings):
    from cluster import runtime
    from workshops import checker

    assert checker.checker in runtime.TICK_HOOKS
    assert checker.seat_quota_hook in runtime.API_HOOKS
    assert checker.reclaim_hook in runtime.PERIODIC_HOOKS
    checker.register()  # once per process, however often it is called
    assert runtime.PERIODIC_HOOKS.count(checker.reclaim_hook) == 1

    settings.KUBEDOJO_SEAT_IDLE_SECONDS = 60
    seat, _ = services.join(workshop, "Aiko")
    Seat.objects.filter(pk=seat.pk).update(last_seen=timezone.now() - timedelta(minutes=2))
    hook = checker._Every(300, checker._reclaim, clock=lambda: 1000.0)
    outbox = hook()
    assert (f"seat_{seat.pk}", {"type": "seat.reclaimed"}) in outbox
    assert Seat.objects.get(pk=seat.pk).cluster is None
    assert hook() is None  # not due again for 300 s


def test_entering_a_lesson_applies_its_setup_to_the_seats_cluster(instructor):
    workshop = Workshop.objects.create(owner=instructor, title="ops", lesson_pack="workloads-and-operations", nodes=1)
    seat, _ = services.join(workshop, "Aiko")
    api = api_for(seat.cluster)
    assert names(api, "Deployment", "default") == []  # lesson 4 (rolling update) starts from nothing
    first_of_lesson_5 = next(ref.index for ref in workshop.pack().steps if ref.lesson.id == "service-types-dns")
    services.start_step(seat, first_of_lesson_5)
    assert names(api, "Deployment", "default") == ["web"]
    services.start_step(seat, first_of_lesson_5 + 1)  # a later step of the same lesson: nothing more
    assert SeatEvent.objects.filter(seat=seat, kind="step_started").count() == 3
