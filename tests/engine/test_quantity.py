"""Quantities parse, round and print exactly as resource.Quantity does."""

from decimal import Decimal

import pytest

from engine.resources.quantity import (
    ERR_FORMAT,
    ERR_SUFFIX,
    canonical,
    cpu_millis,
    format_cpu,
    format_memory,
    memory_bytes,
    normalize_quantities,
    parse_quantity,
)


@pytest.mark.parametrize("text, value", [
    ("100m", Decimal("0.1")),
    ("0.5", Decimal("0.5")),
    ("2", Decimal(2)),
    (4, Decimal(4)),
    (0.5, Decimal("0.5")),
    ("128Mi", Decimal(128 * 2**20)),
    ("1Gi", Decimal(2**30)),
    ("128M", Decimal(128_000_000)),
    ("1e3", Decimal(1000)),
    ("1E3", Decimal(1000)),
    ("12e6", Decimal(12_000_000)),
    ("1k", Decimal(1000)),
    ("1Ki", Decimal(1024)),
    ("1.5Gi", Decimal(1536 * 2**20)),
    ("250u", Decimal("0.00025")),
    ("5n", Decimal("0.000000005")),
    ("-1", Decimal(-1)),
    ("0", Decimal(0)),
])
def test_parse_values(text, value):
    assert parse_quantity(text) == value


def test_values_round_up_to_nano_precision():
    assert parse_quantity("0.0000000001") == Decimal("1e-9")


@pytest.mark.parametrize("text, message", [
    ("2x", ERR_FORMAT),
    ("", ERR_FORMAT),
    ("abc", ERR_FORMAT),
    ("1..2", ERR_FORMAT),
    (True, ERR_FORMAT),
    ("1mi", ERR_SUFFIX),
    ("1e", ERR_SUFFIX),
])
def test_bad_quantities_carry_kubernetes_messages(text, message):
    with pytest.raises(ValueError) as excinfo:
        parse_quantity(text)
    assert str(excinfo.value) == message


def test_format_error_text_is_the_apimachinery_one():
    assert ERR_FORMAT == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


@pytest.mark.parametrize("given, stored", [
    (4, "4"),
    (0.5, "500m"),
    ("0.5", "500m"),
    ("1.5", "1500m"),
    ("1000m", "1"),
    ("100m", "100m"),
    ("1000", "1k"),
    (1000.0, "1k"),
    ("128Mi", "128Mi"),
    ("1024Mi", "1Gi"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("1000Ki", "1000Ki"),
    ("128M", "128M"),
    ("64M", "64M"),
    ("1e3", "1e3"),
    ("0.1m", "100u"),
    ("1.0001Ki", "1024102400u"),
    ("10.0", "10"),
    ("+5Mi", "+5Mi"),  # already canonical strings are kept verbatim, sign included
])
def test_canonical_form(given, stored):
    assert canonical(given) == stored


def test_cpu_millis_rounds_up():
    assert cpu_millis("0.1m") == 1
    assert cpu_millis(0.5) == 500
    assert cpu_millis("1") == 1000
    assert cpu_millis("250m") == 250
    assert cpu_millis("1.0005") == 1001


def test_memory_bytes():
    assert memory_bytes("128Mi") == 134217728
    assert memory_bytes("1G") == 10**9
    assert memory_bytes("1.5") == 2


def test_format_cpu_and_memory():
    assert format_cpu(1500) == "1500m"
    assert format_cpu(2000) == "2"
    assert format_cpu(250) == "250m"
    assert format_cpu(0) == "0"
    assert format_memory(134217728) == "128Mi"
    assert format_memory(2 * 1024**3) == "2Gi"
    assert format_memory(1536 * 2**20) == "1536Mi"
    assert format_memory(1000) == "1k"  # below 1Ki a binary quantity prints as decimal
    assert format_memory(1500) == "1500"


def test_normalize_the_seed_pod_resources():
    # 004: the nginx pod whose requests (cpu: 4) exceed its limits (cpu: 0.5).
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {
        "requests": {"cpu": 4, "memory": "128M"}, "limits": {"cpu": 0.5, "memory": "64M"}}}]}}
    assert normalize_quantities(pod) == []
    assert pod["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "4", "memory": "128M"}, "limits": {"cpu": "500m", "memory": "64M"}}


def test_normalize_reports_bad_values_with_their_paths():
    dep = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "a", "resources": {"limits": {"cpu": "2x"}}}]}}}}
    assert normalize_quantities(dep) == [("spec.template.spec.containers[0].resources.limits[cpu]", ERR_FORMAT)]
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2x"


def test_normalize_other_quantity_fields():
    node = {"kind": "Node", "status": {"capacity": {"cpu": 4, "memory": "8Gi", "pods": 110}}}
    normalize_quantities(node)
    assert node["status"]["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    pvc = {"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": "1024Mi"}}}}
    normalize_quantities(pvc)
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    quota = {"kind": "ResourceQuota", "spec": {"hard": {"requests.cpu": 1, "pods": 10}}}
    normalize_quantities(quota)
    assert quota["spec"]["hard"] == {"requests.cpu": "1", "pods": "10"}
    limits = {"kind": "LimitRange", "spec": {"limits": [{"type": "Container", "default": {"cpu": 0.25}}]}}
    normalize_quantities(limits)
    assert limits["spec"]["limits"][0]["default"] == {"cpu": "250m"}
    sts = {"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [
        {"spec": {"resources": {"requests": {"storage": 1}}}}]}}
    normalize_quantities(sts)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1"
