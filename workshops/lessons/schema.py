"""What a lesson file may say, as pydantic models: validated once, when the lessons are loaded.

A lesson is one YAML file (see `data/README.md`): an id, a title and an introduction in Japanese
and English, optional `setup` (what the cluster needs before the lesson), and 2-5 steps. A step
has Markdown text in both languages, declarative checks that turn green by themselves, and a
solution (kubectl commands and the files they use) the instructor can reveal.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workshops.lessons import fields as fieldexpr

SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """The same words in Japanese and English; both are required."""

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.ja if language == "ja" else self.en


def _check_selector(value: str | None) -> str | None:
    if value is None:
        return value
    from engine import errors, labels

    try:
        labels.parse(value)
    except errors.ApiError as exc:
        raise ValueError(f"the label selector {value!r} does not parse: {exc.message}") from None
    return value


def _check_kind(value: str) -> str:
    from engine.resources import registry

    try:
        registry.by_kind(value)
    except registry.UnknownKind:
        raise ValueError(f"unknown kind {value!r} (kinds are spelled as in manifests: Deployment, Pod, Service)") from None
    return value


def _check_matchers(value: list[str]) -> list[str]:
    for index, text in enumerate(value):
        try:
            fieldexpr.parse_matcher(text)
        except fieldexpr.FieldError as exc:
            raise ValueError(f"fields[{index}]: {exc}") from None
    return value


class CheckBase(Strict):
    id: str = Field(pattern=SLUG)
    description: Text


class Selecting(CheckBase):
    """Objects of one kind, by name or by label selector, optionally with field matchers."""

    kind: str
    namespace: str = "default"
    name: str | None = None
    selector: str | None = None
    fields: list[str] = Field(default_factory=list)

    valid_kind = field_validator("kind")(_check_kind)
    valid_selector = field_validator("selector")(_check_selector)
    valid_fields = field_validator("fields")(_check_matchers)

    @property
    def matchers(self) -> list[fieldexpr.Matcher]:
        return [fieldexpr.parse_matcher(text) for text in self.fields]


class ObjectExists(Selecting):
    """At least one object (the named one, or one matching the selector) exists and matches every field."""

    type: Literal["object_exists"]


class Count(Selecting):
    """At least `min` (and at most `max`) objects match the selector and every field."""

    type: Literal["count"]
    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range(self):
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class ObjectAbsent(Selecting):
    """No object (the named one, or none matching the selector and fields) exists."""

    type: Literal["object_absent"]


class PodReplaced(CheckBase):
    """A pod matching the selector that existed when the step began was deleted, and a new one is Running."""

    type: Literal["pod_replaced"]
    namespace: str = "default"
    selector: str

    valid_selector = field_validator("selector")(_check_selector)


class RolloutRevision(CheckBase):
    """The Deployment is at revision `revision` (its deployment.kubernetes.io/revision annotation), and, unless
    `complete: false`, its rollout finished: every replica updated and available, no old pods left."""

    type: Literal["rollout_revision"]
    namespace: str = "default"
    name: str
    revision: int = Field(ge=1)
    complete: bool = True
    fields: list[str] = Field(default_factory=list)

    valid_fields = field_validator("fields")(_check_matchers)

    @property
    def matchers(self) -> list[fieldexpr.Matcher]:
        return [fieldexpr.parse_matcher(text) for text in self.fields]


class RequestSucceeds(CheckBase):
    """A request to the Service (inside the cluster, to its port and path) gets a 2xx answer."""

    type: Literal["request_succeeds"]
    namespace: str = "default"
    service: str
    port: int | None = Field(default=None, ge=1, le=65535)
    path: str = "/"


Check = Annotated[ObjectExists | Count | ObjectAbsent | PodReplaced | RolloutRevision | RequestSucceeds,
                  Field(discriminator="type")]


class Solution(Strict):
    """kubectl commands (the subset `solutions.py` runs) and the files they read (`apply -f app.yml`)."""

    commands: list[str] = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    note: Text | None = None

    @model_validator(mode="after")
    def _runnable(self):
        from workshops.lessons import solutions

        for index, command in enumerate(self.commands):
            problem = solutions.check_command(command, self.files)
            if problem:
                raise ValueError(f"commands[{index}] {command!r}: {problem}")
        for name, text in self.files.items():
            problem = solutions.check_manifest_file(text)
            if problem:
                raise ValueError(f"files[{name!r}]: {problem}")
        return self


class Step(Strict):
    id: str = Field(pattern=SLUG)
    title: Text
    text: Text
    checks: list[Check] = Field(min_length=1)
    solution: Solution
    # Virtual seconds the lesson tests give the solution to turn every check green.
    timeout: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("checks")
    @classmethod
    def _unique_checks(cls, value):
        seen = set()
        for check in value:
            if check.id in seen:
                raise ValueError(f"two checks have the id {check.id!r}")
            seen.add(check.id)
        return value


class Lesson(Strict):
    id: str = Field(pattern=SLUG)
    number: int = Field(ge=1, le=99)
    title: Text
    summary: Text
    intro: Text
    sources: list[str] = Field(default_factory=list)  # which seed material it covers
    setup: Solution | None = None
    steps: list[Step] = Field(min_length=2, max_length=5)

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, value):
        seen = set()
        for step in value:
            if step.id in seen:
                raise ValueError(f"two steps have the id {step.id!r}")
            seen.add(step.id)
        return value


class Pack(Strict):
    id: str = Field(pattern=SLUG)
    title: Text
    description: Text
    lessons: list[str] = Field(min_length=1)

    @field_validator("lessons")
    @classmethod
    def _ids(cls, value):
        for item in value:
            if not re.match(SLUG, item):
                raise ValueError(f"{item!r} is not a lesson id")
        if len(set(value)) != len(value):
            raise ValueError("a lesson is listed twice")
        return value


class PackFile(Strict):
    packs: list[Pack] = Field(min_length=1)
