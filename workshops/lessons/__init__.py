"""Lessons as data: YAML files in `data/`, validated on load, grouped into packs.

    library()                     every lesson and pack in data/ (loaded once; LessonError if any is wrong)
    library().pack("kubernetes-nyumon").steps   the pack's steps in order, each a StepRef
    load_lesson(path)             one file, with errors naming the file, lesson, step and field

A LessonError reads like

    data/01-declarative-config.yaml: lesson declarative-config: step 1 (apply): checks[0].fields: fields[0]:
    cannot read the matcher 'status.readyReplicas >>= 2' ...
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from workshops.lessons.schema import Lesson, Pack, PackFile, Step

DATA_DIR = Path(__file__).resolve().parent / "data"
PACKS_FILE = "packs.yaml"
CHECK_TYPES = frozenset({"object_exists", "count", "object_absent", "pod_replaced", "rollout_revision",
                         "request_succeeds"})


class LessonError(ValueError):
    """A lesson or pack file that does not load; the message names the file, lesson, step and field."""


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(DATA_DIR.parent))
    except ValueError:
        return str(path)


def _location(loc: tuple, data: dict) -> tuple[str, str]:
    """(step part, field path) for a pydantic error location, e.g. ("step 2 (update)", "checks[0].fields")."""
    parts: list[str] = []
    step_part = ""
    items = list(loc)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "steps" and i + 1 < len(items) and isinstance(items[i + 1], int):
            index = items[i + 1]
            steps = data.get("steps") if isinstance(data, dict) else None
            step_id = ""
            if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
                step_id = str(steps[index].get("id") or "")
            step_part = f"step {index + 1}" + (f" ({step_id})" if step_id else "")
            i += 2
            continue
        if isinstance(item, int):
            if parts:
                parts[-1] += f"[{item}]"
            else:
                parts.append(f"[{item}]")
        elif item in CHECK_TYPES and parts and parts[-1].startswith("checks["):
            pass  # the discriminator pydantic puts in the location
        else:
            parts.append(str(item))
        i += 1
    return step_part, ".".join(parts)


def _format(path: Path, data, exc: ValidationError, what: str) -> LessonError:
    lines = []
    for error in exc.errors():
        step_part, field = _location(tuple(error["loc"]), data if isinstance(data, dict) else {})
        message = error["msg"].removeprefix("Value error, ")
        where = ": ".join(p for p in (step_part, field) if p)
        lines.append(f"{_shown(path)}: {what}: {where + ': ' if where else ''}{message}")
    return LessonError("\n".join(lines))


def _read_yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LessonError(f"{_shown(path)}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise LessonError(f"{_shown(path)}: not valid YAML{where}: {problem}") from None


def _expected_id(path: Path) -> str:
    """A lesson's id from its file name: `01-declarative-config.yaml` holds lesson `declarative-config`."""
    return path.stem.split("-", 1)[1] if path.stem[:2].isdigit() and "-" in path.stem else path.stem


def load_lesson(path: Path) -> Lesson:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise LessonError(f"{_shown(path)}: a lesson file is a mapping with id, title, steps...")
    lesson_id = data.get("id") or path.stem
    try:
        lesson = Lesson.model_validate(data)
    except ValidationError as exc:
        raise _format(path, data, exc, f"lesson {lesson_id}") from None
    expected = _expected_id(path)
    if lesson.id != expected:
        raise LessonError(f"{_shown(path)}: lesson {lesson.id}: id: the id must match the file name ({expected!r})")
    return lesson


@dataclass(frozen=True)
class StepRef:
    """One step of a pack, in order: `key` ("lesson-id/step-id") is what progress is stored under."""

    index: int
    lesson: Lesson
    step: Step
    lesson_index: int
    step_number: int  # 1-based within its lesson

    @property
    def key(self) -> str:
        return f"{self.lesson.id}/{self.step.id}"


@dataclass(frozen=True)
class PackView:
    pack: Pack
    lessons: tuple[Lesson, ...]

    @property
    def id(self) -> str:
        return self.pack.id

    @functools.cached_property
    def steps(self) -> tuple[StepRef, ...]:
        out = []
        for lesson_index, lesson in enumerate(self.lessons):
            for number, step in enumerate(lesson.steps, start=1):
                out.append(StepRef(len(out), lesson, step, lesson_index, number))
        return tuple(out)

    def step(self, index: int) -> StepRef | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None

    def index_of(self, key: str) -> int | None:
        return next((ref.index for ref in self.steps if ref.key == key), None)


@dataclass(frozen=True)
class Library:
    lessons: dict[str, Lesson]
    packs: dict[str, PackView]

    def pack(self, pack_id: str) -> PackView:
        try:
            return self.packs[pack_id]
        except KeyError:
            raise LessonError(f"no lesson pack {pack_id!r} (packs: {', '.join(self.packs)})") from None

    def choices(self, language: str = "en") -> list[tuple[str, str]]:
        return [(p.id, p.pack.title.get(language)) for p in self.packs.values()]


def load_library(directory: Path = DATA_DIR) -> Library:
    lessons: dict[str, Lesson] = {}
    numbers: dict[int, str] = {}
    problems: list[str] = []
    broken: set[str] = set()  # ids of lessons whose file did not load: a pack naming one adds nothing to say
    for path in sorted(directory.glob("*.yaml")):
        if path.name == PACKS_FILE:
            continue
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            problems.append(str(exc))
            broken.add(_expected_id(path))
            continue
        if lesson.id in lessons:
            problems.append(f"{_shown(path)}: lesson {lesson.id}: id: another file has this id")
        if lesson.number in numbers:
            problems.append(f"{_shown(path)}: lesson {lesson.id}: number: {lesson.number} is also lesson "
                            f"{numbers[lesson.number]}'s")
        lessons[lesson.id] = lesson
        numbers[lesson.number] = lesson.id
    packs_path = directory / PACKS_FILE
    packs: dict[str, PackView] = {}
    if not packs_path.exists():
        problems.append(f"{_shown(packs_path)}: missing: the packs file lists which lessons workshops can use")
    else:
        data = _read_yaml(packs_path)
        try:
            pack_file = PackFile.model_validate(data)
        except ValidationError as exc:
            problems.append(str(_format(packs_path, data, exc, "packs")))
            pack_file = None
        for pack in pack_file.packs if pack_file else []:
            unknown = [lesson_id for lesson_id in pack.lessons if lesson_id not in lessons and lesson_id not in broken]
            if any(lesson_id in broken for lesson_id in pack.lessons):
                continue
            if unknown:
                problems.append(f"{_shown(packs_path)}: pack {pack.id}: lessons: no lesson {', '.join(map(repr, unknown))}")
                continue
            packs[pack.id] = PackView(pack, tuple(lessons[i] for i in pack.lessons))
    if problems:
        raise LessonError("\n".join(problems))
    return Library(lessons, packs)


@functools.cache
def library() -> Library:
    """Every lesson and pack in data/, loaded and validated once per process."""
    return load_library()


__all__ = ["DATA_DIR", "Lesson", "LessonError", "Library", "PackView", "Step", "StepRef", "library", "load_lesson",
           "load_library"]
