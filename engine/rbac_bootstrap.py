"""The bootstrap RBAC policy a fresh cluster shows (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, 1.32).

A real kube-apiserver writes some sixty `system:*` ClusterRoles at start; KubeDojo keeps the ones a
learner meets first: the user-facing `cluster-admin`, `admin`, `edit` and `view`, the three
`system:aggregate-to-*` roles whose rules the latter three aggregate, and the discovery roles every
authenticated user is bound to (`system:basic-user`, `system:discovery`, `system:public-info-viewer`),
with the ClusterRoleBindings that grant them. `admin`, `edit` and `view` carry their aggregation
rules and, as the clusterrole-aggregation controller leaves them, the union of the selected roles'
rules.
"""

from __future__ import annotations

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
AGGREGATE_TO = {role: f"{GROUP}/aggregate-to-{role}" for role in ("admin", "edit", "view")}

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


# The rules of the system:aggregate-to-* roles (bootstrappolicy.ClusterRoles), in their order.
AGGREGATE_TO_VIEW_RULES = [
    _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                 "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status"], READ),
    _rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                 "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], READ),
    _rule([""], ["namespaces"], READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], READ),
    _rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                     "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                     "statefulsets/scale", "statefulsets/status"], READ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    _rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                           "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale",
                           "replicasets/status", "replicationcontrollers/scale"], READ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]

AGGREGATE_TO_EDIT_RULES = [
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                 "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], WRITE),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                     "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    _rule(["batch"], ["cronjobs", "jobs"], WRITE),
    _rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                           "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"],
          WRITE),
    _rule(["policy"], ["poddisruptionbudgets"], WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    _rule(["coordination.k8s.io"], ["leases"], READ + WRITE),
]

AGGREGATE_TO_ADMIN_RULES = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule([GROUP], ["rolebindings", "roles"], ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
]


def _cluster_role(name: str, rules: list[dict] | None, labels: dict | None = None,
                  aggregate_from: str | None = None) -> dict:
    role: dict = {
        "apiVersion": API_VERSION, "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})}, "annotations": dict(AUTOUPDATE)},
    }
    if aggregate_from is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO[aggregate_from]: "true"}}]}
    if rules is not None:
        role["rules"] = rules
    return role


def _union(*rule_lists: list[dict]) -> list[dict]:
    """The aggregation controller's merge: each selected role's rules in turn, duplicates dropped."""
    merged: list[dict] = []
    for rules in rule_lists:
        for rule in rules:
            if rule not in merged:
                merged.append(rule)
    return merged


def _binding(name: str, role: str, subject_kind: str, subject: str) -> dict:
    return {
        "apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS), "annotations": dict(AUTOUPDATE)},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": GROUP, "kind": subject_kind, "name": subject}],
    }


def cluster_roles() -> list[dict]:
    view = _union(AGGREGATE_TO_VIEW_RULES)
    edit = _union(AGGREGATE_TO_EDIT_RULES, view)
    admin = _union(edit, AGGREGATE_TO_ADMIN_RULES)
    return [
        _cluster_role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                        {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _cluster_role("admin", admin, aggregate_from="admin"),
        _cluster_role("edit", edit, {AGGREGATE_TO["admin"]: "true"}, aggregate_from="edit"),
        _cluster_role("view", view, {AGGREGATE_TO["edit"]: "true"}, aggregate_from="view"),
        _cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN_RULES, {AGGREGATE_TO["admin"]: "true"}),
        _cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT_RULES, {AGGREGATE_TO["edit"]: "true"}),
        _cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW_RULES, {AGGREGATE_TO["view"]: "true"}),
        _cluster_role("system:basic-user", [
            _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
        ]),
        _cluster_role("system:discovery", [
            {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                                 "/readyz", "/version", "/version/"], "verbs": ["get"]},
        ]),
        _cluster_role("system:public-info-viewer", [
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]},
        ]),
    ]


def cluster_role_bindings() -> list[dict]:
    return [
        _binding("cluster-admin", "cluster-admin", "Group", "system:masters"),
        _binding("system:basic-user", "system:basic-user", "Group", "system:authenticated"),
        _binding("system:discovery", "system:discovery", "Group", "system:authenticated"),
        {**_binding("system:public-info-viewer", "system:public-info-viewer", "Group", "system:authenticated"),
         "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": "system:authenticated"},
                      {"apiGroup": GROUP, "kind": "Group", "name": "system:unauthenticated"}]},
    ]


def bootstrap_policy() -> list[dict]:
    """ClusterRoles first, then the bindings that reference them."""
    return cluster_roles() + cluster_role_bindings()
