"""A class of 30 learners works through lesson 1 at once against one server: they join over HTTP, half of them
apply the Deployment with the web terminal's kubectl and half through the Kubernetes HTTP API (as a real kubectl
does), every cluster is simulated by the loop's pieces with the lesson checker as its tick hook, and each page's
progress and the instructor's dashboard show every learner through both steps."""

from __future__ import annotations

import json

import pytest
import yaml
from django.test import Client

from cluster.runtime import api_for, virtual_now
from engine import kubectl
from tests.workshop.conftest import simulate
from workshops.checker import SeatChecker
from workshops.models import Seat

pytestmark = pytest.mark.django_db

LEARNERS = 30


def tick_all(loops, checker, seats, done, limit: int = 120) -> int:
    """Tick every cluster one virtual second at a time, the checker after each, until `done(seat)` for all."""
    for rounds in range(1, limit + 1):
        for loop in loops:
            loop.sim.tick(1.0)
            checker(loop, None)
        for seat in seats:
            seat.refresh_from_db()
        if all(done(seat) for seat in seats):
            return rounds
    raise AssertionError(f"not every learner got there: {[s.current_step for s in seats]}")


def test_thirty_learners_through_lesson_one_at_once(workshop, instructor):
    workshop.max_seats = LEARNERS
    workshop.save()
    browsers = []
    for number in range(LEARNERS):
        browser = Client()
        response = browser.post("/join/", {"code": workshop.join_code, "display_name": f"learner {number:02d}"})
        assert response.status_code == 302
        browsers.append(browser)
    assert Client().post("/join/", {"code": workshop.join_code, "display_name": "one too many"}).status_code == 409
    seats = list(Seat.objects.filter(workshop=workshop).select_related("cluster", "workshop").order_by("pk"))
    assert len({seat.cluster_id for seat in seats}) == LEARNERS

    step = workshop.pack().step(0).step
    manifest = step.solution.files["app.yml"]
    for number, (seat, browser) in enumerate(zip(seats, browsers, strict=True)):
        if number % 2:
            config = yaml.safe_load(browser.get(f"/w/{workshop.join_code}/kubeconfig").content)
            prefix = config["clusters"][0]["cluster"]["server"].removeprefix("http://testserver")
            response = Client().post(f"{prefix}/apis/apps/v1/namespaces/default/deployments",
                                     data=json.dumps(yaml.safe_load(manifest)), content_type="application/json")
            assert response.status_code == 201, response.content
        else:
            result = kubectl.run("apply -f app.yml", api_for(seat.cluster), virtual_now(seat.cluster), kubectl.Context(),
                                 files={"app.yml": manifest})
            assert result.stdout == "deployment.apps/bootcamp created\n"

    loops = [simulate(seat.cluster) for seat in seats]
    checker = SeatChecker(interval=0.0)
    tick_all(loops, checker, seats, lambda seat: seat.current_step >= 1)
    for seat in seats:
        result = kubectl.run("scale deployment/bootcamp --replicas=3", api_for(seat.cluster), virtual_now(seat.cluster), kubectl.Context())
        assert result.stdout == "deployment.apps/bootcamp scaled\n"
    tick_all(loops, checker, seats, lambda seat: seat.current_step >= 2)

    for browser in browsers:
        data = browser.get(f"/w/{workshop.join_code}/progress").json()
        assert [s["passed"] for s in data["steps"][:2]] == [True, True] and data["current"] == 2
    staff = Client()
    staff.force_login(instructor)
    tiles = staff.get(f"/workshops/{workshop.pk}/dashboard.json").json()["tiles"]
    assert len(tiles) == LEARNERS
    assert {(t["current"], t["passed_steps"]) for t in tiles} == {(2, 2)}
    assert {sum(len(n["pods"]) for n in t["thumbnail"]["nodes"]) for t in tiles} == {3}
