"""Kubernetes resource quantities (`100m`, `0.5`, `128Mi`, `1e3`), as resource.Quantity reads and writes them.

A quantity is an exact decimal, rounded up to nano precision when parsed, that
remembers its format (DecimalSI, BinarySI or DecimalExponent). The API server
re-emits every quantity in canonical form: `0.5` comes back as `500m`, `1.5Gi`
as `1536Mi`, `1000m` as `1`; a string already canonical is kept as written.
We store the canonical form too, so `kubectl get -o yaml` shows what it would
show against a real cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_UP, Decimal, localcontext

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"

# The exact error texts of k8s.io/apimachinery/pkg/api/resource.
SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = {v // 10: k for k, v in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_NANO = Decimal("1e-9")
_INT64_MAX = 2**63 - 1
_PRECISION = 80  # digits; far beyond anything int64-scaled quantities need


@dataclass(frozen=True)
class Quantity:
    value: Decimal  # exact, already rounded up to nano precision
    format: str
    text: str | None = None  # the input, when it was already canonical (Kubernetes keeps it verbatim)

    def __str__(self) -> str:
        return self.text if self.text is not None else _canonical(self.value, self.format)


def _scan(s: str) -> tuple[bool, str, str, str]:
    """Split into (positive, numerator, denominator, suffix) the way parseQuantityString does."""
    positive, pos, end = True, 0, len(s)
    if s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":  # leading zeros
        pos += 1
    if pos == end:
        return positive, "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos != end:
        raise ValueError(ERR_FORMAT)
    return positive, num, denom, s[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), DECIMAL_EXPONENT
        except ValueError:
            pass
    raise ValueError(ERR_SUFFIX)


def parse(text: str) -> Quantity:
    """Parse a quantity string; ValueError carries Kubernetes' own message."""
    s = text.strip()  # UnmarshalJSON trims spaces
    if not s:
        raise ValueError(ERR_FORMAT)
    if s == "0":
        return Quantity(Decimal(0), DECIMAL_SI, "0")
    positive, num, denom, suffix = _scan(s)
    base, exponent, fmt = _interpret(suffix)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        digits = int(num + denom)
        amount = Decimal(digits).scaleb(-len(denom))
        amount = amount.scaleb(exponent) if base == 10 else amount * (Decimal(2) ** exponent)
        if not positive:
            amount = -amount
        if amount != 0:
            # Non-zero values round up (away from zero) to 1n: asking for some resource gets some.
            amount = amount.quantize(_NANO, rounding=ROUND_UP) if amount.as_tuple().exponent < -9 else amount
        if fmt == BINARY_SI and abs(amount) > _INT64_MAX:
            amount = Decimal(_INT64_MAX).copy_sign(amount)
        if fmt == BINARY_SI and 0 < abs(amount) < 1:
            fmt = DECIMAL_SI
    return Quantity(amount, fmt, s if _kept_verbatim(num, denom, base, exponent, fmt, digits) else None)


def _kept_verbatim(num: str, denom: str, base: int, exponent: int, fmt: str, digits: int) -> bool:
    """Kubernetes' fast path reuses the input string when it is already canonical."""
    shifted = num + denom
    if base == 10:
        scale = exponent - len(denom)
        if 18 - len(shifted) < 0 or scale < -9:
            return False
        return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    if denom or exponent < 0 or 15 - len(num) - int(exponent * 3 / 10) - 1 < 0:
        return False
    return fmt == BINARY_SI and (digits << exponent) <= _INT64_MAX and digits & 0x07 != 0


def _canonical(value: Decimal, fmt: str) -> str:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _canonical_exact(value, fmt)


def _canonical_exact(value: Decimal, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024:
            fmt = DECIMAL_SI
        else:
            rounded = value.to_integral_value(rounding=ROUND_UP)
            if rounded != value:
                fmt = DECIMAL_SI  # don't lose precision
            else:
                mantissa, power = int(rounded), 0
                while abs(mantissa) >= 1024 and mantissa % 1024 == 0:
                    mantissa //= 1024
                    power += 1
                return f"{mantissa}{_BINARY_BY_POWER.get(power, '')}"
    sign, digits, exp = value.normalize().as_tuple()
    mantissa = int("".join(map(str, digits)))
    while exp % 3:  # the largest multiple-of-three exponent that keeps the mantissa whole
        mantissa *= 10
        exp -= 1
    if sign:
        mantissa = -mantissa
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    if exp in _DECIMAL_BY_EXP:
        return f"{mantissa}{_DECIMAL_BY_EXP[exp]}"
    return f"{mantissa}e{exp}"


def _text(value) -> str:
    """The raw JSON text Kubernetes would see for a value (numbers arrive unquoted)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(ERR_FORMAT)
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


def parse_quantity(value) -> Decimal:
    """The exact value of a quantity (str or number); ValueError on bad input such as `2x`."""
    return parse(_text(value)).value


def canonical(value) -> str:
    """The string the API server stores for a quantity: `0.5` -> `500m`, `1024Mi` -> `1Gi`."""
    return str(parse(_text(value)))


def cpu_millis(value) -> int:
    """Milli-units, rounded up as Quantity.MilliValue does (`0.1m` is 1)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return int((parse_quantity(value) * 1000).to_integral_value(rounding=ROUND_CEILING))


def memory_bytes(value) -> int:
    """Whole units, rounded up as Quantity.Value does."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return int(parse_quantity(value).to_integral_value(rounding=ROUND_CEILING))


def format_cpu(millis: int) -> str:
    """Canonical DecimalSI: 1500 -> `1500m`, 2000 -> `2`, 250 -> `250m`."""
    return _canonical(Decimal(int(millis)).scaleb(-3), DECIMAL_SI)


def format_memory(n_bytes: int) -> str:
    """Canonical BinarySI: 134217728 -> `128Mi`, 2147483648 -> `2Gi` (below 1Ki it is decimal: 1000 -> `1k`)."""
    return _canonical(Decimal(int(n_bytes)), BINARY_SI)


# --- Quantity-typed fields ---------------------------------------------------------------------

_RESOURCE_LISTS = ("limits", "requests")
_TEMPLATED = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController", "PodTemplate"}


def quantity_fields(obj: dict) -> Iterator[tuple[dict, str, str]]:
    """Every Quantity-typed slot of an object as (holder, key, field path), by kind.

    Paths are written as Kubernetes writes them: `spec.containers[0].resources.limits[cpu]`.
    """
    kind = obj.get("kind")
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    if kind == "Pod":
        yield from _pod_spec(spec, "spec")
        for group in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            for i, cs in _items(status.get(group)):
                yield from _map(cs.get("allocatedResources"), f"status.{group}[{i}].allocatedResources")
                yield from _requirements(cs.get("resources"), f"status.{group}[{i}].resources")
    elif kind in _TEMPLATED:
        template = obj.get("template") if kind == "PodTemplate" else spec.get("template")
        prefix = "template" if kind == "PodTemplate" else "spec.template"
        yield from _pod_spec(_dict(_dict(template).get("spec")), f"{prefix}.spec")
        for i, pvc in _items(spec.get("volumeClaimTemplates")):
            yield from _requirements(_dict(pvc.get("spec")).get("resources"), f"spec.volumeClaimTemplates[{i}].spec.resources")
    elif kind == "CronJob":
        job_spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
        yield from _pod_spec(_dict(_dict(job_spec.get("template")).get("spec")), "spec.jobTemplate.spec.template.spec")
    elif kind == "Node":
        yield from _map(status.get("capacity"), "status.capacity")
        yield from _map(status.get("allocatable"), "status.allocatable")
    elif kind == "PersistentVolume":
        yield from _map(spec.get("capacity"), "spec.capacity")
    elif kind == "PersistentVolumeClaim":
        yield from _requirements(spec.get("resources"), "spec.resources")
        yield from _map(status.get("capacity"), "status.capacity")
        yield from _map(status.get("allocatedResources"), "status.allocatedResources")
    elif kind == "LimitRange":
        for i, item in _items(spec.get("limits")):
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                yield from _map(item.get(key), f"spec.limits[{i}].{key}")
    elif kind == "ResourceQuota":
        yield from _map(spec.get("hard"), "spec.hard")
        yield from _map(status.get("hard"), "status.hard")
        yield from _map(status.get("used"), "status.used")
    elif kind == "HorizontalPodAutoscaler":
        for i, metric in _items(spec.get("metrics")):
            for source, body in metric.items():
                target = _dict(_dict(body).get("target"))
                yield from _slots(target, ("value", "averageValue"), f"spec.metrics[{i}].{source}.target")
        for i, metric in _items(status.get("currentMetrics")):
            for source, body in metric.items():
                current = _dict(_dict(body).get("current"))
                yield from _slots(current, ("value", "averageValue"), f"status.currentMetrics[{i}].{source}.current")


def _pod_spec(spec: dict, path: str) -> Iterator[tuple[dict, str, str]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in _items(spec.get(group)):
            cpath = f"{path}.{group}[{i}]"
            yield from _requirements(container.get("resources"), f"{cpath}.resources")
            for j, env in _items(container.get("env")):
                ref = _dict(_dict(env.get("valueFrom")).get("resourceFieldRef"))
                yield from _slots(ref, ("divisor",), f"{cpath}.env[{j}].valueFrom.resourceFieldRef")
    yield from _map(spec.get("overhead"), f"{path}.overhead")
    yield from _requirements(spec.get("resources"), f"{path}.resources")
    for i, volume in _items(spec.get("volumes")):
        vpath = f"{path}.volumes[{i}]"
        yield from _slots(_dict(volume.get("emptyDir")), ("sizeLimit",), f"{vpath}.emptyDir")
        claim = _dict(_dict(_dict(volume.get("ephemeral")).get("volumeClaimTemplate")).get("spec"))
        yield from _requirements(claim.get("resources"), f"{vpath}.ephemeral.volumeClaimTemplate.spec.resources")
        for j, item in _items(_dict(volume.get("downwardAPI")).get("items")):
            yield from _slots(_dict(item.get("resourceFieldRef")), ("divisor",), f"{vpath}.downwardAPI.items[{j}].resourceFieldRef")


def _requirements(resources, path: str) -> Iterator[tuple[dict, str, str]]:
    resources = _dict(resources)
    for key in _RESOURCE_LISTS:
        yield from _map(resources.get(key), f"{path}.{key}")


def _map(holder, path: str) -> Iterator[tuple[dict, str, str]]:
    if isinstance(holder, dict):
        for key in list(holder):
            yield holder, key, f"{path}[{key}]"


def _slots(holder: dict, keys: tuple[str, ...], path: str) -> Iterator[tuple[dict, str, str]]:
    for key in keys:
        if key in holder:
            yield holder, key, f"{path}.{key}"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def normalize_quantities(obj: dict) -> list[tuple[str, str]]:
    """Rewrite every Quantity-typed field in place to its canonical string (`cpu: 4` -> `"4"`, `0.5` -> `"500m"`).

    Values that do not parse are left untouched and returned as (path, message)
    so the caller can reject the object with Kubernetes' wording.
    """
    problems = []
    for holder, key, path in quantity_fields(obj):
        value = holder[key]
        if value is None:
            holder[key] = "0"  # JSON null decodes to a zero Quantity
            continue
        try:
            holder[key] = canonical(value)
        except ValueError as exc:
            problems.append((path, str(exc)))
    return problems
