"""Protobuf bodies of typed `kubectl create` commands (k8s\\0 + runtime.Unknown)."""

from __future__ import annotations

from tests.api.conftest import status_of

PB = "application/vnd.kubernetes.protobuf"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value) -> bytes:
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def message(*fields: bytes) -> bytes:
    return b"".join(fields)


def entry(key: str, value: str) -> bytes:
    return message(field(1, key), field(2, value))


def unknown(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + message(field(1, message(field(1, api_version), field(2, kind))), field(2, raw),
                                field(3, ""), field(4, ""))


def meta(name: str, **labels: str) -> bytes:
    # Go writes every non-pointer field, empty or not: name, generateName ... creationTimestamp.
    return message(field(1, name), field(2, ""), field(3, ""), field(4, ""), field(5, ""), field(6, ""), field(7, 0),
                   field(8, b""), *(field(11, entry(k, v)) for k, v in labels.items()))


def deployment(name: str, replicas: int) -> bytes:
    container = message(field(1, "nginx"), field(2, "nginx"), field(5, ""),
                        field(6, message(field(1, ""), field(2, 0), field(3, 80), field(4, ""), field(5, ""))),
                        field(8, b""), field(13, ""), field(14, ""), field(16, False), field(17, False),
                        field(18, False), field(20, ""))
    pod_spec = message(field(2, container), field(3, ""), field(6, ""), field(11, False), field(19, ""))
    template = message(field(1, meta("", app=name)), field(2, pod_spec))
    selector = message(field(1, entry("app", name)))
    spec = message(field(1, replicas), field(2, selector), field(3, template), field(4, message(field(1, ""))),
                   field(5, 0), field(7, False))
    return unknown("apps/v1", "Deployment", message(field(1, meta(name, app=name)), field(2, spec), field(3, b"")))


def test_typed_create_deployment(k8s):
    response = k8s.post("/apis/apps/v1/namespaces/default/deployments", raw=deployment("web", 0), content_type=PB)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["spec"]["replicas"] == 0  # an explicit zero in a pointer field survives
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"][0]["containerPort"]) == ("nginx", "nginx", 80)
    assert created["metadata"]["labels"] == {"app": "web"}
    assert "generateName" not in created["metadata"]


def test_typed_create_namespace_configmap_secret(k8s):
    ns = unknown("v1", "Namespace", message(field(1, meta("dev")), field(2, b""), field(3, b"")))
    assert k8s.post("/api/v1/namespaces", raw=ns, content_type=PB).status_code == 201
    cm = unknown("v1", "ConfigMap", message(field(1, meta("cfg")), field(2, entry("a", "b"))))
    assert k8s.post("/api/v1/namespaces/dev/configmaps", raw=cm, content_type=PB).json()["data"] == {"a": "b"}
    secret = unknown("v1", "Secret", message(field(1, meta("pw")), field(2, entry("pw", "x")), field(3, "Opaque")))
    created = k8s.post("/api/v1/namespaces/dev/secrets", raw=secret, content_type=PB).json()
    assert created["data"] == {"pw": "eA=="} and created["type"] == "Opaque"


def test_protobuf_errors_change_nothing(k8s):
    before = (k8s.revision(), k8s.objects())
    url = "/apis/apps/v1/namespaces/default/deployments"
    assert status_of(k8s.post(url, raw=b"not protobuf", content_type=PB))["code"] == 400
    assert status_of(k8s.post(url, raw=deployment("web", 1)[:-7], content_type=PB))["code"] == 400
    odd = unknown("apps/v1", "Deployment", message(field(1, meta("web")), field(99, "surprise")))
    body = status_of(k8s.post(url, raw=odd, content_type=PB))
    assert body["code"] == 415 and "field 99 of Deployment" in body["message"]
    undecoded = unknown("v1", "LimitRange", message(field(1, meta("h"))))  # no typed create sends one
    assert status_of(k8s.post(url, raw=undecoded, content_type=PB))["code"] == 415
    wrong_url = unknown("v1", "Namespace", message(field(1, meta("dev"))))
    assert status_of(k8s.post(url, raw=wrong_url, content_type=PB))["code"] == 400
    # Updates and patches do not take protobuf (kubectl never sends it for them).
    assert status_of(k8s.put(url + "/web", raw=deployment("web", 1), content_type=PB))["code"] == 415
    assert (k8s.revision(), k8s.objects()) == before
