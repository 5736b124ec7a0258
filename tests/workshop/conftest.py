"""Workshop fixtures: an instructor, a workshop on the introductory pack, and a seat's cluster simulated in the test
(the runner's own pieces: a Simulation over the seat's DjangoStore, the lesson checker as the tick hook)."""

from __future__ import annotations

import pytest

# The browser tests' fixtures (a live `manage.py serve`, Chromium), for test_browser.py.
from tests.browser.conftest import browser, chromium_path, kubedojo_server, live_db, page, page_errors  # noqa: F401


@pytest.fixture
def instructor(django_user_model):
    return django_user_model.objects.create_user("sensei", password="pw", is_staff=True)


@pytest.fixture
def workshop(instructor):
    from workshops.models import Workshop

    return Workshop.objects.create(owner=instructor, title="Kubernetes入門", lesson_pack="kubernetes-nyumon",
                                   nodes=2, node_size="small")


def simulate(cluster):
    """The seat's cluster as the runner simulates it (fast kubelet profile), with a ClusterLoop for the hooks."""
    from cluster.runtime import ClusterLoop
    from cluster.store import DjangoStore
    from engine.clock import VirtualClock
    from engine.simulation import Simulation

    cluster.refresh_from_db()
    clock = VirtualClock(start=float(cluster.virtual_time))
    sim = Simulation(DjangoStore(cluster, now=clock.now), clock, seed=3, profile="fast")
    sim.start()
    return ClusterLoop(cluster=cluster, sim=sim)


def run_step_solution(loop, seat, timeout: float = 120.0) -> bool:
    """Apply the seat's current step's solution through kubectl, then tick until the checker moves the seat on."""
    from workshops.checker import SeatChecker
    from workshops.lessons import solutions

    pack = seat.workshop.pack()
    start = seat.current_step
    ref = pack.step(start)
    checker = SeatChecker(interval=0.0)
    loop.sim.tick()
    checker(loop, None)  # the step begins: checks remember what they need (pods to be replaced)
    solutions.run(loop.sim.api, ref.step.solution.commands, ref.step.solution.files)

    def moved_on(_sim) -> bool:
        checker(loop, None)
        seat.refresh_from_db()
        return seat.current_step > start

    return loop.sim.run_until(moved_on, timeout=timeout, step=1.0)
