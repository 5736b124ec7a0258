"""Lessons run as tests: every step's checks fail on the cluster as the step finds it, and pass once its solution
is applied and the cluster has had the step's time to settle (engine only, on a MemoryStore)."""

from __future__ import annotations

import pytest

from workshops.lessons import library
from workshops.lessons.play import apply_solution, evaluate, fresh_simulation

LESSONS = sorted(library().lessons.values(), key=lambda lesson: lesson.number)


def _params():
    for lesson in LESSONS:
        yield pytest.param(lesson, id=f"{lesson.number:02d}-{lesson.id}")


def test_the_packs_cover_the_eleven_lessons_of_the_seeds():
    assert [lesson.number for lesson in LESSONS] == list(range(1, 12))
    assert library().pack("kubernetes-fundamentals").pack.lessons == [lesson.id for lesson in LESSONS]
    assert library().pack("kubernetes-nyumon").pack.lessons == ["declarative-config", "service", "self-healing"]


@pytest.mark.parametrize("lesson", list(_params()))
def test_each_step_fails_before_its_solution_and_passes_after(lesson):
    sim = fresh_simulation()
    apply_solution(sim.api, lesson.setup)
    for step in lesson.steps:
        states: dict = {}
        sim.tick()
        before = evaluate(sim, step, states)
        assert not all(r.passed for r in before), f"{lesson.id}/{step.id} passes before its solution"
        apply_solution(sim.api, step.solution)
        results = []

        def green(_sim, step=step, states=states) -> bool:
            nonlocal results
            results = evaluate(sim, step, states)
            return all(r.passed for r in results)

        assert sim.run_until(green, timeout=step.timeout, step=1.0), (
            f"{lesson.id}/{step.id}: " + "; ".join(f"{r.id}: {r.detail['en']}" for r in results if not r.passed))
