"""The lesson loader refuses a wrong lesson or pack file at load, naming the file, lesson, step and field."""

from __future__ import annotations

import textwrap

import pytest

from workshops.lessons import LessonError, load_library

GOOD = """\
id: demo
number: 1
title: {ja: デモ, en: Demo}
summary: {ja: 概要, en: Summary}
intro: {ja: はじめに, en: Intro}
steps:
  - id: apply
    title: {ja: 作る, en: Create}
    text: {ja: 本文, en: Text}
    checks:
      - id: exists
        type: object_exists
        kind: Deployment
        name: web
        fields: ["status.readyReplicas >= 2"]
        description: {ja: ある, en: It exists}
    solution:
      commands: [kubectl apply -f web.yaml]
      files:
        web.yaml: |
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: web}
  - id: scale
    title: {ja: 増やす, en: Scale}
    text: {ja: 本文, en: Text}
    checks:
      - {id: three, type: count, kind: Pod, selector: app=web, min: 3, description: {ja: 3 つ, en: three}}
    solution:
      commands: [kubectl scale deployment/web --replicas=3]
"""
PACKS = "packs:\n  - {id: demo-pack, title: {ja: パック, en: Pack}, description: {ja: 説明, en: About}, lessons: [demo]}\n"


def write(tmp_path, lesson: str = GOOD, packs: str = PACKS, name: str = "01-demo.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(lesson), encoding="utf-8")
    (tmp_path / "packs.yaml").write_text(packs, encoding="utf-8")
    return tmp_path


def error_of(tmp_path, lesson: str = GOOD, packs: str = PACKS, name: str = "01-demo.yaml") -> str:
    with pytest.raises(LessonError) as info:
        load_library(write(tmp_path, lesson, packs, name))
    return str(info.value)


def test_a_good_lesson_loads_into_a_pack_of_ordered_steps(tmp_path):
    library = load_library(write(tmp_path))
    steps = library.pack("demo-pack").steps
    assert [ref.key for ref in steps] == ["demo/apply", "demo/scale"]
    assert [ref.step_number for ref in steps] == [1, 2]
    assert library.pack("demo-pack").index_of("demo/scale") == 1


def test_an_unknown_pack_names_the_packs_there_are(tmp_path):
    library = load_library(write(tmp_path))
    with pytest.raises(LessonError, match=r"no lesson pack 'nope' \(packs: demo-pack\)"):
        library.pack("nope")


def test_not_yaml_says_where(tmp_path):
    message = error_of(tmp_path, GOOD.replace("number: 1", "number: [1"))
    assert "01-demo.yaml: not valid YAML (line 3, column 6): expected ',' or ']', but got ':'" in message


def test_an_unknown_kind_names_the_step_and_field(tmp_path):
    message = error_of(tmp_path, GOOD.replace("kind: Deployment\n        name: web", "kind: Deployments\n        name: web"))
    assert "01-demo.yaml: lesson demo: step 1 (apply): checks[0].kind: unknown kind 'Deployments'" in message


def test_a_matcher_that_does_not_parse(tmp_path):
    message = error_of(tmp_path, GOOD.replace("status.readyReplicas >= 2", "status.readyReplicas >>= 2"))
    assert "lesson demo: step 1 (apply): checks[0].fields: fields[0]:" in message


def test_a_bad_label_selector(tmp_path):
    message = error_of(tmp_path, GOOD.replace("selector: app=web", "selector: 'app in (web'"))
    assert "step 2 (scale): checks[0].selector: the label selector 'app in (web' does not parse" in message


def test_a_missing_translation(tmp_path):
    message = error_of(tmp_path, GOOD.replace("title: {ja: 作る, en: Create}", "title: {ja: 作る}"))
    assert "step 1 (apply): title.en: Field required" in message


def test_an_unknown_check_type_and_an_unknown_field(tmp_path):
    message = error_of(tmp_path, GOOD.replace("type: object_exists", "type: object_there"))
    assert "step 1 (apply): checks[0]:" in message and "object_there" in message
    message = error_of(tmp_path, GOOD.replace("min: 3,", "minimum: 3,"))
    assert "step 2 (scale): checks[0].minimum: Extra inputs are not permitted" in message


def test_a_solution_that_names_a_missing_file(tmp_path):
    message = error_of(tmp_path, GOOD.replace("kubectl apply -f web.yaml", "kubectl apply -f app.yaml"))
    assert ("step 1 (apply): solution: commands[0] 'kubectl apply -f app.yaml': -f app.yaml: the solution has no "
            "file of that name (files: web.yaml)") in message


def test_a_solution_that_is_not_kubectl(tmp_path):
    message = error_of(tmp_path, GOOD.replace("kubectl scale deployment/web --replicas=3", "docker run nginx"))
    assert "only kubectl commands can be run" in message


def test_duplicate_step_ids(tmp_path):
    message = error_of(tmp_path, GOOD.replace("- id: scale", "- id: apply"))
    assert "lesson demo: steps: two steps have the id 'apply'" in message


def test_the_id_must_match_the_file_name(tmp_path):
    message = error_of(tmp_path, name="01-other.yaml",
                       packs=PACKS.replace("lessons: [demo]", "lessons: [other]"))
    assert "01-other.yaml: lesson demo: id: the id must match the file name ('other')" in message


def test_a_pack_that_names_a_missing_lesson(tmp_path):
    message = error_of(tmp_path, packs=PACKS.replace("lessons: [demo]", "lessons: [demo, nowhere]"))
    assert "packs.yaml: pack demo-pack: lessons: no lesson 'nowhere'" in message


def test_every_problem_is_reported_at_once(tmp_path):
    (tmp_path / "02-broken.yaml").write_text("id: broken\nnumber: 2\n", encoding="utf-8")
    message = error_of(tmp_path, GOOD.replace("kind: Deployment\n        name: web", "kind: Deploy\n        name: web"))
    assert "01-demo.yaml: lesson demo: step 1 (apply): checks[0].kind" in message
    assert "02-broken.yaml: lesson broken: title: Field required" in message
