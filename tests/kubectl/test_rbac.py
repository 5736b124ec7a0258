"""RBAC kinds by the real kubectl 1.32: api-resources, the typed creates (protobuf), get/-o wide, apply, describe,
the immutable roleRef, the bootstrap ClusterRoles, and a malformed label selector answered 400.

Everything runs in its own namespace on the session's server.
"""

from __future__ import annotations

import json

import pytest

from tests.kubectl.test_seed_flows import rows

pytestmark = pytest.mark.kubectl

NS = "rbac-test"
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: applied
subjects:
- kind: Group
  name: devs
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role
  name: pod-reader
  apiGroup: rbac.authorization.k8s.io
"""


@pytest.fixture(scope="module")
def k(kubectl):
    kubectl("create", "namespace", NS)

    def run(*args, **kwargs):
        return kubectl("-n", NS, *args, **kwargs)

    run.kubectl = kubectl
    return run


def test_api_resources_lists_the_rbac_kinds(k):
    out = k("api-resources", "--api-group=rbac.authorization.k8s.io").stdout
    assert rows(out) == [
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        ["clusterrolebindings", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"],
        ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"],
        ["rolebindings", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"],
        ["roles", "rbac.authorization.k8s.io/v1", "true", "Role"],
    ]


def test_typed_creates_get_and_describe(k):
    out = k("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,deployments.apps")
    assert out.stdout == "role.rbac.authorization.k8s.io/pod-reader created\n"
    out = k("create", "rolebinding", "read-pods", "--role=pod-reader", "--user=jane", "--group=devs",
            f"--serviceaccount={NS}:default")
    assert out.stdout == "rolebinding.rbac.authorization.k8s.io/read-pods created\n"
    assert k("create", "clusterrole", "kd-node-reader", "--verb=get", "--resource=nodes",
             "--non-resource-url=/healthz").stdout == "clusterrole.rbac.authorization.k8s.io/kd-node-reader created\n"
    assert k("create", "clusterrolebinding", "kd-read-nodes", "--clusterrole=kd-node-reader",
             "--user=jane").stdout == "clusterrolebinding.rbac.authorization.k8s.io/kd-read-nodes created\n"

    role = json.loads(k("get", "role", "pod-reader", "-o", "json").stdout)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
    ]
    table = rows(k("get", "roles").stdout)
    assert table[0] == ["NAME", "CREATED AT"] and table[1][0] == "pod-reader"
    wide = rows(k("get", "rolebinding", "read-pods", "-o", "wide").stdout)
    assert wide[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert [wide[1][i] for i in (0, 1, 3, 4, 5)] == ["read-pods", "Role/pod-reader", "jane", "devs",
                                                     f"{NS}/default"]
    crb = rows(k("get", "clusterrolebinding", "kd-read-nodes").stdout)
    assert crb[0] == ["NAME", "ROLE", "AGE"] and crb[1][:2] == ["kd-read-nodes", "ClusterRole/kd-node-reader"]

    described = k("describe", "role", "pod-reader").stdout
    assert described.splitlines()[:6] == [
        "Name:         pod-reader",
        "Labels:       <none>",
        "Annotations:  <none>",
        "PolicyRule:",
        "  Resources         Non-Resource URLs  Resource Names  Verbs",
        "  ---------         -----------------  --------------  -----",
    ]
    assert described.splitlines()[6:] == [
        "  pods              []                 []              [get list watch]",
        "  deployments.apps  []                 []              [get list watch]",
    ]
    described = k("describe", "rolebinding", "read-pods").stdout
    assert "Role:\n  Kind:  Role\n  Name:  pod-reader\n" in described
    assert f"  ServiceAccount  default  {NS}" in described


def test_apply_and_immutable_role_ref(k):
    k.kubectl("apply", "-n", NS, "-f", str(k.kubectl.write("binding.yaml", BINDING)))
    changed = BINDING.replace("kind: Role\n  name: pod-reader", "kind: ClusterRole\n  name: view")
    done = k("apply", "-f", str(k.kubectl.write("binding2.yaml", changed)), check=False)
    assert done.returncode == 1
    assert ('The RoleBinding "applied" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:'
            '"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"view"}: cannot change roleRef') in done.stderr


def test_invalid_rules_are_rejected_with_apiserver_words(k):
    manifest = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: broken\n"
                "rules:\n- resources: [pods]\n  verbs: [get]\n")
    done = k("apply", "-f", str(k.kubectl.write("broken.yaml", manifest)), check=False)
    assert done.returncode == 1
    assert ('The Role "broken" is invalid: rules[0].apiGroups: Required value: resource rules must supply at '
            "least one api group") in done.stderr


def test_bootstrap_cluster_roles(k):
    names = [r[0] for r in rows(k("get", "clusterroles").stdout)[1:]]
    for name in ("admin", "cluster-admin", "edit", "view", "system:aggregate-to-view", "system:discovery"):
        assert name in names
    described = k("describe", "clusterrole", "cluster-admin").stdout
    assert described.splitlines()[-2:] == ["  *.*        []                 []              [*]",
                                           "             [*]                []              [*]"]


def test_malformed_label_selector_is_a_bad_request(k):
    done = k("get", "pods", "-l", "a in b", check=False)
    assert done.returncode == 1
    assert done.stderr == ('Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
                           "selector \"a in b\", field selector \"\": unable to parse requirement: found 'b' "
                           "expected: '('\n")
    done = k("get", "pods", "-l", "%%%", check=False)
    assert done.returncode == 1 and 'unable to parse requirement: <nil>: Invalid value: "%%%"' in done.stderr


def test_aggregated_cluster_role_collects_labelled_roles(k):
    out = k("create", "clusterrole", "kd-aggregate", "--aggregation-rule=kubedojo.test/aggregate=true")
    assert out.stdout == "clusterrole.rbac.authorization.k8s.io/kd-aggregate created\n"
    k("create", "clusterrole", "kd-secrets", "--verb=get", "--resource=secrets")
    k("label", "clusterrole", "kd-secrets", "kubedojo.test/aggregate=true")
    rules = k.kubectl.wait_for(lambda text: "secrets" in text, "get", "clusterrole", "kd-aggregate", "-o",
                               "jsonpath={.rules}")
    assert json.loads(rules) == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    selector = json.loads(k("get", "clusterrole", "kd-aggregate", "-o", "jsonpath={.aggregationRule}").stdout)
    assert selector == {"clusterRoleSelectors": [{"matchLabels": {"kubedojo.test/aggregate": "true"}}]}
