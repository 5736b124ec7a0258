"""Play lessons through the engine: a fresh cluster, each step's solution, the clock run until its checks pass.

The lesson tests call `play_lesson` for every lesson (lessons as tests); a seat's reset calls
`apply_until` to rebuild a cluster as it stands at the start of a step. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.bootstrap import bootstrap_cluster
from engine.clock import DEFAULT_START, VirtualClock
from engine.simulation import Simulation
from engine.store import MemoryStore
from workshops.lessons import PackView, schema, solutions
from workshops.lessons.checks import CheckResult, InformerSource, evaluate_step


def fresh_simulation(nodes: int = 3, node_size: str = "standard", seed: int = 7, profile: str = "fast",
                     start: float = DEFAULT_START) -> Simulation:
    """A bootstrapped cluster (control plane, `nodes` workers, CoreDNS...) on a MemoryStore, ticked once."""
    clock = VirtualClock(start)
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, profile=profile)
    bootstrap_cluster(sim.api, nodes=nodes, profile=node_size)
    sim.tick()
    return sim


def apply_solution(api, solution: schema.Solution | None, on_error=None) -> list[str]:
    if solution is None:
        return []
    return solutions.run(api, solution.commands, solution.files, on_error=on_error)


@dataclass
class StepOutcome:
    key: str
    passed: bool
    seconds: float  # virtual seconds from the solution to every check green
    results: list[CheckResult] = field(default_factory=list)

    def failing(self) -> str:
        return "; ".join(f"{r.id}: {r.detail['en']}" for r in self.results if not r.passed)


def evaluate(sim: Simulation, step: schema.Step, states: dict) -> list[CheckResult]:
    results = evaluate_step(step, InformerSource(sim.cache), states, sim=sim)
    for result in results:
        states[result.id] = result.state
    return results


def play_step(sim: Simulation, lesson: schema.Lesson, step: schema.Step, step_size: float = 1.0) -> StepOutcome:
    """Begin the step (checks remember what they need), run its solution, tick until every check passes."""
    states: dict = {}
    sim.tick()
    evaluate(sim, step, states)
    apply_solution(sim.api, step.solution)
    started = sim.clock.now()
    results: list[CheckResult] = []

    def green(_sim) -> bool:
        nonlocal results
        results = evaluate(sim, step, states)
        return all(r.passed for r in results)

    passed = sim.run_until(green, timeout=step.timeout, step=step_size)
    return StepOutcome(f"{lesson.id}/{step.id}", passed, sim.clock.now() - started, results)


def play_lesson(sim: Simulation, lesson: schema.Lesson) -> list[StepOutcome]:
    """Setup, then every step in order; stops at the first step that does not turn green."""
    apply_solution(sim.api, lesson.setup)
    outcomes = []
    for step in lesson.steps:
        outcome = play_step(sim, lesson, step)
        outcomes.append(outcome)
        if not outcome.passed:
            break
    return outcomes


def apply_until(api, pack: PackView, step_index: int, on_error=None) -> list[str]:
    """Bring a freshly bootstrapped cluster to the start of step `step_index` of the pack: the setup of each
    lesson reached and the solutions of every earlier step, in order (errors go to `on_error`)."""
    out: list[str] = []
    seen_lessons: set[str] = set()
    for ref in pack.steps[:max(0, step_index) + 1]:
        if ref.lesson.id not in seen_lessons:
            seen_lessons.add(ref.lesson.id)
            out.extend(apply_solution(api, ref.lesson.setup, on_error))
        if ref.index < step_index:
            out.extend(apply_solution(api, ref.step.solution, on_error))
    return out


__all__ = ["StepOutcome", "apply_solution", "apply_until", "evaluate", "fresh_simulation", "play_lesson", "play_step"]
