"""Role, ClusterRole, RoleBinding and ClusterRoleBinding: registry, defaults, validation with kube-apiserver's
words, the Tables `kubectl get` prints, and the bootstrap ClusterRoles of a fresh cluster."""

from __future__ import annotations

import pytest

from engine import errors, labels
from engine.apiserver import ApiServer
from engine.bootstrap import bootstrap_cluster
from engine.clock import DEFAULT_START, VirtualClock, format_rfc3339
from engine.resources import registry, tables
from engine.store import MemoryStore

RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture
def api():
    clock = VirtualClock()
    server = ApiServer(MemoryStore(now=clock.now), clock.now)
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return server


def role(name="pod-reader", rules=None) -> dict:
    return {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": name, "namespace": "default"},
            "rules": rules if rules is not None else [{"apiGroups": [""], "resources": ["pods"],
                                                       "verbs": ["get", "list", "watch"]}]}


def binding(kind="RoleBinding", ref_kind="Role", ref_name="pod-reader", subjects=None) -> dict:
    meta = {"name": "read-pods"}
    if kind == "RoleBinding":
        meta["namespace"] = "default"
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
            "subjects": subjects if subjects is not None else [{"kind": "User", "name": "jane"}]}


def invalid_messages(api, obj) -> list[str]:
    with pytest.raises(errors.ApiError) as caught:
        api.create(obj)
    assert caught.value.code == 422, caught.value.message
    return [f"{c.field}: {c.message}" for c in caught.value.causes]


def test_the_four_kinds_are_registered_as_on_1_32():
    for kind, plural, namespaced in (("Role", "roles", True), ("ClusterRole", "clusterroles", False),
                                     ("RoleBinding", "rolebindings", True),
                                     ("ClusterRoleBinding", "clusterrolebindings", False)):
        info = registry.by_kind(kind)
        assert (info.group, info.version, info.plural, info.namespaced) == \
            ("rbac.authorization.k8s.io", "v1", plural, namespaced)
        assert info.short_names == () and info.categories == ()
        assert registry.resolve(f"{plural}.rbac.authorization.k8s.io") is info
        assert registry.resolve(kind.lower()) is info
    assert ("rbac.authorization.k8s.io", "v1") in registry.groups()


def test_role_and_binding_round_trip_with_defaults(api):
    created = api.create(role())
    assert created["rules"][0]["verbs"] == ["get", "list", "watch"]
    stored = api.create(binding(subjects=[{"kind": "User", "name": "jane"},
                                          {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]))
    # SetDefaults_Subject: User and Group get the rbac group, ServiceAccount the core group (none).
    assert stored["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in stored["subjects"][1]
    no_group = binding()
    del no_group["roleRef"]["apiGroup"]
    no_group["metadata"]["name"] = "defaulted"
    assert api.create(no_group)["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"


def test_rbac_names_may_hold_colons_but_not_slashes(api):
    assert api.create(role("system:pod-reader"))
    assert invalid_messages(api, role("a/b")) == ['metadata.name: Invalid value: "a/b": may not contain \'/\'']


def test_policy_rule_validation(api):
    messages = invalid_messages(api, role(rules=[{"resources": ["pods"]}, {"verbs": ["get"]},
                                                 {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]))
    assert messages == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[1].resources: Required value: resource rules must supply at least one resource",
        'rules[2].nonResourceURLs: Invalid value: []string{"/healthz"}: '
        "namespaced rules cannot apply to non-resource URLs",
    ]
    cluster_role = {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "health"},
                    "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert api.create(cluster_role)["rules"][0]["nonResourceURLs"] == ["/healthz"]


def test_binding_validation(api):
    messages = invalid_messages(api, binding(ref_kind="Pod", ref_name="", subjects=[
        {"kind": "Robot", "name": "x"}, {"kind": "ServiceAccount", "name": ""}]))
    assert messages == [
        'roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"',
        "roleRef.name: Required value",
        'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        "subjects[1].name: Required value",
    ]
    # A ClusterRoleBinding binds ClusterRoles only, and a ServiceAccount subject needs its namespace.
    messages = invalid_messages(api, binding("ClusterRoleBinding", ref_kind="Role",
                                             subjects=[{"kind": "ServiceAccount", "name": "robot"}]))
    assert messages == ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
                        "subjects[0].namespace: Required value"]


def test_role_ref_is_immutable(api):
    stored = api.create(binding())
    stored["roleRef"]["name"] = "other"
    with pytest.raises(errors.ApiError) as caught:
        api.update(stored)
    assert caught.value.code == 422
    assert caught.value.message == (
        'RoleBinding.rbac.authorization.k8s.io "read-pods" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef')
    stored["roleRef"]["name"] = "pod-reader"
    stored["subjects"].append({"kind": "Group", "name": "devs"})
    assert len(api.update(stored)["subjects"]) == 2


def test_tables():
    def columns(kind):
        return [(c["name"], c["priority"]) for c in tables.column_definitions(kind)]

    assert columns("Role") == [("Name", 0), ("Created At", 0)]
    assert columns("ClusterRole") == [("Name", 0), ("Created At", 0)]
    assert columns("RoleBinding") == [("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1), ("Groups", 1),
                                      ("ServiceAccounts", 1)]
    assert columns("ClusterRoleBinding") == columns("RoleBinding")
    assert tables.column_definitions("RoleBinding")[1]["description"].startswith(
        "RoleRef can reference a Role in the current namespace or a ClusterRole")
    obj = binding(subjects=[{"kind": "User", "name": "jane"}, {"kind": "User", "name": "bob"},
                            {"kind": "Group", "name": "devs"},
                            {"kind": "ServiceAccount", "name": "robot", "namespace": "ci"}])
    obj["metadata"]["creationTimestamp"] = format_rfc3339(DEFAULT_START)
    row = tables.row(registry.by_kind("RoleBinding"), obj, DEFAULT_START + 300)["cells"]
    assert row == ["read-pods", "Role/pod-reader", "5m", "jane, bob", "devs", "ci/robot"]
    assert tables.row(registry.by_kind("ClusterRoleBinding"), binding("ClusterRoleBinding", "ClusterRole", "view",
                                                                      subjects=[]),
                      DEFAULT_START)["cells"][1:2] == ["ClusterRole/view"]


def test_fresh_cluster_has_the_bootstrap_cluster_roles(api):
    bootstrap_cluster(api, nodes=1)
    roles = {r["metadata"]["name"]: r for r in api.list("ClusterRole")["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-admin", "system:aggregate-to-edit",
            "system:aggregate-to-view", "system:basic-user", "system:discovery",
            "system:public-info-viewer"} == set(roles)
    assert roles["cluster-admin"]["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                               {"nonResourceURLs": ["*"], "verbs": ["*"]}]
    for name in roles:
        assert roles[name]["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    # Aggregation: edit is selected by admin's rule, view by edit's; each holds the rules it aggregates.
    assert roles["admin"]["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]}
    assert roles["edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    view_rules, edit_rules, admin_rules = (roles[n]["rules"] for n in ("view", "edit", "admin"))
    assert view_rules == roles["system:aggregate-to-view"]["rules"]
    assert all(rule in edit_rules for rule in view_rules)
    assert all(rule in admin_rules for rule in edit_rules + roles["system:aggregate-to-admin"]["rules"])
    assert not any("secrets" in r.get("resources", []) for r in view_rules)
    bindings = {b["metadata"]["name"]: b for b in api.list("ClusterRoleBinding")["items"]}
    assert bindings["cluster-admin"]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    # Running it again creates nothing new.
    assert not [o for o in bootstrap_cluster(api, nodes=1) if o["kind"].startswith("Cluster")]


@pytest.mark.parametrize("text, message", [
    ("%%%", "unable to parse requirement: <nil>: Invalid value: \"%%%\": name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a b", "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"),
    ("a=b,", "found '', expected: identifier after ','"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a in ()", None),
])
def test_malformed_label_selectors_are_bad_requests(api, text, message):
    if message is None:
        assert labels.parse(text).requirements[0].values == ("",)
        return
    with pytest.raises(errors.ApiError) as caught:
        api.list("Pod", "default", label_selector=text)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_label_values_are_validated():
    with pytest.raises(errors.ApiError) as caught:
        labels.parse("app=a/b")
    assert caught.value.message.startswith('unable to parse requirement: values[0][app]: Invalid value: "a/b": ')
    selector = labels.parse("env notin (prod,staging), !canary, tier")
    assert selector.matches({"env": "dev", "tier": "web"})
    assert not selector.matches({"env": "prod", "tier": "web"})
    assert not selector.matches({"env": "dev", "tier": "web", "canary": "1"})


# --- the web terminal's kubectl ------------------------------------------------------------------


@pytest.fixture
def term(api):
    from engine.kubectl import Context, run

    clock_now = api.now

    def k(line: str):
        return run(line, api, clock_now(), Context())

    return k


def test_web_terminal_create_role_and_binding(term, api):
    out = term("kubectl create role pod-reader --verb=get,list --verb=watch --resource=pods,deploy.apps,pods/log")
    assert (out.stdout, out.stderr) == ("role.rbac.authorization.k8s.io/pod-reader created\n", "")
    assert api.get("Role", "default", "pod-reader")["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
    ]
    out = term("kubectl create rolebinding read-pods --role=pod-reader --user=jane --serviceaccount=default:robot")
    assert out.stdout == "rolebinding.rbac.authorization.k8s.io/read-pods created\n"
    assert api.get("RoleBinding", "default", "read-pods")["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"},
        {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]
    out = term("kubectl get rolebinding -o wide")
    assert out.stdout.splitlines()[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out.stdout.splitlines()[1].split() == ["read-pods", "Role/pod-reader", "0s", "jane", "default/robot"]
    assert term("kubectl get role").stdout.splitlines()[0].split() == ["NAME", "CREATED", "AT"]

    out = term("kubectl create clusterrole reader --verb=get --non-resource-url=/healthz --resource=nodes")
    assert out.stdout == "clusterrole.rbac.authorization.k8s.io/reader created\n"
    out = term("kubectl create clusterrolebinding read-all --clusterrole=reader --group=devs")
    assert out.stdout == "clusterrolebinding.rbac.authorization.k8s.io/read-all created\n"


@pytest.mark.parametrize("line, message", [
    ("kubectl create role r --resource=pods", "error: at least one verb must be specified\n"),
    ("kubectl create role r --verb=get", "error: at least one resource must be specified\n"),
    ("kubectl create role r --verb=get --resource=foos", 'error: the server doesn\'t have a resource type "foos"\n'),
    ("kubectl create role r --verb=bind --resource=pods", "error: can not perform 'bind' on 'pods' in group ''\n"),
    ("kubectl create rolebinding b --user=jane", "error: exactly one of clusterrole or role must be specified\n"),
    ("kubectl create rolebinding b --role=r --serviceaccount=robot",
     "error: serviceaccount must be <namespace>:<name>\n"),
])
def test_web_terminal_create_errors(term, line, message):
    out = term(line)
    assert out.stderr == message and out.exit_code == 1


def test_web_terminal_describe(term, api):
    # kubectl breaks rules down per group and resource, merges the verbs of one resource, and sorts by
    # PolicyRule.String(), whose first field is Verbs.
    api.create(role(rules=[{"apiGroups": ["", "apps"], "resources": ["pods", "deployments/scale"],
                            "verbs": ["get", "list"]},
                           {"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]},
                           {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"],
                            "verbs": ["get"]}]))
    assert term("kubectl describe role pod-reader").stdout == (
        "Name:         pod-reader\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "PolicyRule:\n"
        "  Resources               Non-Resource URLs  Resource Names  Verbs\n"
        "  ---------               -----------------  --------------  -----\n"
        "  pods                    []                 []              [get list watch]\n"
        "  deployments/scale       []                 []              [get list]\n"
        "  deployments.apps/scale  []                 []              [get list]\n"
        "  pods.apps               []                 []              [get list]\n"
        "  configmaps              []                 [cfg]           [get]\n")
    api.create(binding(subjects=[{"kind": "User", "name": "jane"},
                                 {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]))
    assert term("kubectl describe rolebinding read-pods").stdout == (
        "Name:         read-pods\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "Role:\n"
        "  Kind:  Role\n"
        "  Name:  pod-reader\n"
        "Subjects:\n"
        "  Kind            Name   Namespace\n"
        "  ----            ----   ---------\n"
        "  User            jane   \n"
        "  ServiceAccount  robot  default\n")


def test_web_terminal_words_a_bad_selector_as_kubectl_does(term):
    out = term("kubectl get pods -l 'a in b'")
    assert out.exit_code == 1
    assert out.stderr == ('Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
                          "selector \"a in b\", field selector \"\": unable to parse requirement: found 'b' "
                          "expected: '('\n")
    out = term("kubectl get deploy --field-selector=foo=bar")
    assert out.stderr == ('Error from server (BadRequest): Unable to find "apps/v1, Resource=deployments" that match '
                          'label selector "", field selector "foo=bar": field label not supported: foo\n')


def test_aggregation_controller_extends_view_edit_and_admin():
    from engine.controllers import default_controllers
    from engine.simulation import Simulation

    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=1, controllers=default_controllers(), profile="fast")
    bootstrap_cluster(sim.api, nodes=1)
    sim.tick()
    before = {n: sim.api.get("ClusterRole", "", n)["metadata"]["resourceVersion"] for n in ("admin", "edit", "view")}
    sim.run(2, step=0.5)
    # The bootstrap roles already hold their aggregated rules: nothing to rewrite.
    assert before == {n: sim.api.get("ClusterRole", "", n)["metadata"]["resourceVersion"]
                      for n in ("admin", "edit", "view")}
    crontabs = {"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get", "list", "watch"]}
    sim.api.create({"apiVersion": RBAC, "kind": "ClusterRole",
                    "metadata": {"name": "crontab-reader",
                                 "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                    "rules": [crontabs]})
    sim.run(2, step=0.5)
    for name in ("view", "edit", "admin"):
        assert crontabs in sim.api.get("ClusterRole", "", name)["rules"], name
    # Selected roles are merged in name order: crontab-reader comes before system:aggregate-to-view.
    assert sim.api.get("ClusterRole", "", "view")["rules"][0] == crontabs
    # A role of one's own aggregating by a label of one's own.
    sim.api.create({"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "monitoring"},
                    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"team": "mon"}}]}})
    sim.api.create({"apiVersion": RBAC, "kind": "ClusterRole",
                    "metadata": {"name": "mon-pods", "labels": {"team": "mon"}},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    sim.run(2, step=0.5)
    assert sim.api.get("ClusterRole", "", "monitoring")["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    sim.api.delete("ClusterRole", "", "crontab-reader")
    sim.run(2, step=0.5)
    assert crontabs not in sim.api.get("ClusterRole", "", "admin")["rules"]


@pytest.mark.parametrize("line, message", [
    ("kubectl create clusterrole c --verb=get", "error: one of resource or nonResourceURL must be specified\n"),
    ("kubectl create clusterrole c --verb=get --non-resource-url=healthz",
     "error: nonResourceURL should start with /\n"),
    ("kubectl create clusterrole c --verb=get --non-resource-url=/a*/b",
     "error: nonResourceURL only supports wildcard matches when '*' is at the end\n"),
    ("kubectl create clusterrole c --aggregation-rule=a=b --verb=get",
     "error: aggregation rule must be specified without nonResourceURLs, verbs, resources or resourceNames\n"),
])
def test_web_terminal_create_clusterrole_errors(term, line, message):
    out = term(line)
    assert (out.stderr, out.exit_code) == (message, 1)


def test_web_terminal_warns_of_nonstandard_verbs(term, api):
    out = term("kubectl create clusterrole c --verb=get,read --resource=nodes")
    assert out.stderr == "Warning: 'read' is not a standard resource verb\n"
    assert out.stdout == "clusterrole.rbac.authorization.k8s.io/c created\n"
    assert api.get("ClusterRole", "", "c")["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "read"]}]
