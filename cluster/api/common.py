"""What every view of the Kubernetes API shares: the cluster a request is for, media types, bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from cluster.api.errors import not_acceptable, not_found_resource
from engine import errors

# kube-apiserver's default limit on a request body (MaxRequestBodyBytes).
MAX_BODY_BYTES = 3 * 1024 * 1024
# Decoded values may not expand beyond this many nodes (YAML aliases) or nest deeper than this.
MAX_DECODED_NODES = 500_000
MAX_DECODED_DEPTH = 100

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_DISCOVERY_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


# --- the cluster -------------------------------------------------------------------------------

@dataclass
class Target:
    cluster: object  # cluster.models.Cluster
    prefix: str  # "/k8s/<access_key>": what kubectl keeps on every request

    def api(self):
        from cluster.runtime import api_for

        return api_for(self.cluster)

    def now(self) -> float:
        from cluster.runtime import virtual_now

        return virtual_now(self.cluster)


def resolve_cluster(access_key: str) -> Target:
    """The cluster whose unguessable key prefixes the path; an unknown key is a plain 404."""
    from cluster.models import Cluster

    cluster = None
    if access_key:
        # Raw SQL: compiling the ORM's query took half of this lookup, done on every request.
        from django.db import connection

        qn = connection.ops.quote_name
        sql = f"SELECT * FROM {qn(Cluster._meta.db_table)} WHERE {qn('access_key')} = %s"
        cluster = next(iter(Cluster.objects.raw(sql, [access_key])), None)
    if cluster is None:
        raise not_found_resource()
    return Target(cluster, f"/k8s/{access_key}")


# REQUEST_HOOKS: hook(request, key) for every request to a cluster's API once it is authorised (cluster.api.errors'
# k8s_view), before it is served; a hook refuses the request by raising errors.ApiError. The workshops app's per-seat
# request rate limit is one.
REQUEST_HOOKS: list = []


def admit_request(request, key: str) -> None:
    for hook in REQUEST_HOOKS:
        hook(request, key)


# --- media types -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MediaType:
    type: str  # "application/json"
    params: dict

    def get(self, key: str, default: str = "") -> str:
        return self.params.get(key, default)


def parse_media_type(text: str) -> MediaType:
    parts = [p.strip() for p in (text or "").split(";")]
    params = {}
    for part in parts[1:]:
        if "=" in part:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
    return MediaType(parts[0].lower(), params)


def parse_accept(header: str) -> list[MediaType]:
    return [parse_media_type(item) for item in (header or "").split(",") if item.strip()]


@dataclass(frozen=True)
class Rendering:
    """How a read is answered: a plain object, a server-side Table, or PartialObjectMetadata."""

    as_: str = ""  # "", "Table", "PartialObjectMetadata"
    version: str = "v1"  # meta.k8s.io version of a Table / PartialObjectMetadata

    @property
    def table(self) -> bool:
        return self.as_ == "Table"


def rendering_for(request) -> Rendering:
    """The first Accept entry we can serve wins, as the apiserver's negotiation does."""
    accept = parse_accept(request.headers.get("Accept", ""))
    if not accept:
        return Rendering()
    for media in accept:
        if media.type not in (JSON, "application/*", "*/*", YAML):
            continue
        as_ = media.get("as")
        if not as_:
            return Rendering()
        if media.get("g") != "meta.k8s.io" or media.get("v") not in ("v1", "v1beta1"):
            continue
        if as_ == "Table":
            return Rendering("Table", media.get("v"))
        if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Rendering("PartialObjectMetadata", media.get("v"))
    raise not_acceptable(request.headers.get("Accept", ""))


# --- bodies ------------------------------------------------------------------------------------

def read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or ""
    try:
        declared = int(length) if length else 0
    except ValueError:
        raise errors.bad_request(f"invalid Content-Length: {length!r}") from None
    if declared > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_BODY_BYTES)
    data = request.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_BODY_BYTES)
    return data


def unsupported_media(content_type: str, accepted: tuple[str, ...]) -> errors.ApiError:
    media = parse_media_type(content_type).type
    hint = ""
    if media == PROTOBUF:
        hint = (" (KubeDojo decodes protobuf only for the typed `kubectl create` commands: write a manifest and use "
                "`kubectl create -f` or `kubectl apply -f`)")
    return errors.ApiError(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}{hint}")


def decode_json(data: bytes, what: str = "couldn't get version/kind; json parse error"):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request(f"{what}: invalid character in UTF-8 input") from None
    if not text.strip():
        raise errors.bad_request(f"{what}: unexpected end of JSON input")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise errors.bad_request(f"{what}: {_json_message(exc)}") from None
    except (RecursionError, ValueError) as exc:
        raise errors.bad_request(f"{what}: {exc}") from None
    check_size(value)
    return value


def decode_yaml(data: bytes, what: str = "error converting YAML to JSON"):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request(f"{what}: yaml: invalid leading UTF-8 octet") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=_StrictLoader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1) if exc.problem_mark else 0
        raise errors.bad_request(f"{what}: yaml: line {line}: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise errors.bad_request(f"{what}: yaml: {exc}") from None
    if len(docs) > 1:
        raise errors.bad_request(f"{what}: yaml: a request body holds one object, found {len(docs)} documents")
    value = docs[0] if docs else None
    check_size(value)
    return value


def decode_body(data: bytes, content_type: str, accepted=(JSON, YAML), protobuf: bool = False):
    """An object from a create/update body in one of the accepted media types (typed creates: protobuf)."""
    # No Content-Type (the official Python client sends none) is read as the first type served: JSON,
    # as kube-apiserver's input negotiation does.
    media = parse_media_type(content_type).type or JSON
    if protobuf and media == PROTOBUF:
        from cluster.api import protobuf as pb

        return pb.decode(data)
    if media not in accepted:
        raise unsupported_media(content_type, accepted)
    if media == YAML:
        return decode_yaml(data)
    return decode_json(data)


def check_size(value) -> None:
    """Refuse values that expand too far (YAML alias bombs) or nest too deep; cheap on ordinary objects."""
    budget = MAX_DECODED_NODES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise errors.request_entity_too_large(MAX_BODY_BYTES)
        if depth > MAX_DECODED_DEPTH:
            raise errors.bad_request(f"the object nests deeper than {MAX_DECODED_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise errors.bad_request(
                        f"error converting YAML to JSON: map key {key!r} is not a string; quote it")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class _StrictLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings (JSON has no dates)."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Binary values (!!binary) are not JSON either: keep them as the base64 text they are written in.
_StrictLoader.add_constructor("tag:yaml.org,2002:binary", lambda loader, node: loader.construct_scalar(node))


def _reject_constant(name: str):
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _json_message(exc: json.JSONDecodeError) -> str:
    msg = exc.msg
    if msg.startswith("Expecting value"):
        bad = exc.doc[exc.pos:exc.pos + 1]
        return (f"invalid character '{bad}' looking for beginning of value" if bad
                else "unexpected end of JSON input")
    if msg.startswith("Extra data"):
        bad = exc.doc[exc.pos:exc.pos + 1]
        return f"invalid character '{bad}' after top-level value"
    if msg.startswith("Unterminated string") or exc.pos >= len(exc.doc):
        return "unexpected end of JSON input"
    bad = exc.doc[exc.pos:exc.pos + 1]
    return f"invalid character '{bad}' {msg[0].lower() + msg[1:]} (line {exc.lineno} column {exc.colno})"


# --- query parameters --------------------------------------------------------------------------

def query_bool(request, name: str) -> bool:
    return request.GET.get(name, "").lower() in ("true", "1")


def query_int(request, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(
            f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def dry_run(request) -> bool:
    values = request.GET.getlist("dryRun")
    for value in values:
        if value != "All":
            raise errors.bad_request(f'Invalid dry run value: {value}; only "All" is supported')
    return bool(values)


FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def field_validation(request) -> str:
    value = request.GET.get("fieldValidation", "")
    if not value:
        return "Warn"  # the apiserver's default when the client says nothing
    if value not in FIELD_VALIDATION:
        raise errors.bad_request(
            f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{value}"')
    return value
