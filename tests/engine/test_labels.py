"""Label selectors in their string form (kubectl -l) and object form (spec.selector)."""

import pytest

from engine import errors, labels


@pytest.mark.parametrize(
    ("text", "matching", "not_matching"),
    [
        ("app=web", {"app": "web"}, {"app": "db"}),
        ("app==web", {"app": "web"}, {}),
        ("app!=web", {"app": "db"}, {"app": "web"}),
        ("app!=web", {}, {"app": "web"}),
        ("tier in (front, back)", {"tier": "back"}, {"tier": "cache"}),
        ("tier notin (front)", {"tier": "back"}, {"tier": "front"}),
        ("canary", {"canary": "yes"}, {"app": "web"}),
        ("!canary", {"app": "web"}, {"canary": ""}),
        ("app=web,tier in (front),!canary", {"app": "web", "tier": "front"}, {"app": "web", "tier": "front", "canary": "1"}),
    ],
)
def test_string_selectors(text, matching, not_matching):
    selector = labels.parse(text)
    assert selector.matches(matching)
    assert not selector.matches(not_matching)


def test_empty_string_selects_everything():
    assert labels.parse("").matches({"anything": "x"})


def test_malformed_selector_is_a_bad_request():
    with pytest.raises(errors.ApiError) as exc:
        labels.parse("app in web")
    assert exc.value.code == 400


def test_label_selector_object():
    selector = labels.from_label_selector(
        {"matchLabels": {"app": "nginx"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    )
    assert selector.matches({"app": "nginx", "env": "prod"})
    assert not selector.matches({"app": "nginx", "env": "dev"})
    assert str(selector) == "app=nginx,env notin (dev)"


def test_nil_selector_matches_nothing_and_empty_matches_everything():
    assert not labels.from_label_selector(None).matches({"app": "x"})
    assert labels.from_label_selector({}).matches({"app": "x"})
