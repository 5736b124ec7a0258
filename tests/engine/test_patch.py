"""Patch semantics kubectl relies on: merge patch, JSON patch, strategic merge by merge key."""

import pytest

from engine import errors
from engine.apiserver import patch


def test_merge_patch_sets_and_removes_keys():
    target = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 2}}
    result = patch.apply_patch(target, {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"replicas": 3}},
                               patch.MERGE)
    assert result == {"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"replicas": 3}}


def test_json_patch_replaces_template():
    target = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}}}}
    ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:2"}]
    assert patch.apply_patch(target, ops, patch.JSON)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def test_json_patch_on_missing_path_is_invalid_not_a_crash():
    with pytest.raises(errors.ApiError) as exc:
        patch.apply_patch({}, [{"op": "replace", "path": "/spec/x", "value": 1}], patch.JSON)
    assert exc.value.code == 422


def test_strategic_merge_merges_containers_by_name_and_keeps_others():
    target = {"spec": {"containers": [{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]},
                                      {"name": "sidecar", "image": "busybox"}]}}
    body = {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}
    result = patch.apply_patch(target, body, patch.STRATEGIC)
    assert result["spec"]["containers"] == [
        {"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "busybox"},
    ]


def test_strategic_merge_delete_directive_and_element_order():
    target = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    body = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                     "containers": [{"name": "a", "$patch": "delete"}]}}
    result = patch.apply_patch(target, body, patch.STRATEGIC)
    assert result["spec"]["containers"] == [{"name": "b", "image": "y"}]


def test_strategic_merge_replaces_lists_without_merge_key():
    target = {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}
    body = {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}
    assert patch.apply_patch(target, body, patch.STRATEGIC)["spec"]["containers"][0]["args"] == ["z"]


def test_unknown_patch_type_is_unsupported_media_type():
    with pytest.raises(errors.ApiError) as exc:
        patch.apply_patch({}, {}, "text/plain")
    assert exc.value.code == 415
