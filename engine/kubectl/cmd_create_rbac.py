"""`kubectl create role|clusterrole|rolebinding|clusterrolebinding`, as kubectl 1.32 builds the objects
(kubectl/pkg/cmd/create/create_role.go and friends): one PolicyRule per API group, resources resolved
through discovery (`pod` -> `pods`), the special verbs `use`, `bind`, `escalate` and `impersonate` only on
the resources they apply to. Importing this module adds the four subcommands to `kubectl create`.
"""

from __future__ import annotations

from engine.kubectl.base import ExitError
from engine.kubectl.cmd_apply import _COMMON, CREATE, _one_name, _submit
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import ARRAY, SLICE, flag
from engine.resources.registry import resolve

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"

VALID_RESOURCE_VERBS = ("*", "get", "delete", "list", "create", "update", "patch", "watch", "proxy",
                        "deletecollection", "use", "bind", "escalate", "impersonate")
VALID_NON_RESOURCE_VERBS = ("*", "get", "post", "put", "delete", "patch", "head", "options")
# Verbs allowed only on some resources: verb -> (group, resource) pairs.
SPECIAL_VERBS = {
    "use": (("policy", "podsecuritypolicies"), ("extensions", "podsecuritypolicies")),
    "bind": ((GROUP, "roles"), (GROUP, "clusterroles")),
    "escalate": ((GROUP, "roles"), (GROUP, "clusterroles")),
    "impersonate": (("", "users"), ("", "serviceaccounts"), ("", "groups"),
                    ("authentication.k8s.io", "userextras")),
}


def _verbs(inv: Invocation) -> list[str]:
    verbs = list(inv.flags["verb"])
    return ["*"] if "*" in verbs else verbs


def _resources(inv: Invocation) -> list[tuple[str, str, str]]:
    """(resource, group, subresource) per --resource, `*` alone meaning every resource."""
    parsed: list[tuple[str, str, str]] = []
    for text in inv.flags["resource"]:
        head, _, sub = text.partition("/")
        resource, _, group = head.partition(".")
        if resource == "*" and not group and "/" not in text:
            return [("*", "", "")]
        parsed.append((resource, group, sub))
    return parsed


def _resolved(resource: str, group: str) -> tuple[str, str] | None:
    """The mapper's ResourceFor: the plural and group of a known resource, None for an unknown one."""
    info = resolve(f"{resource}.{group}" if group else resource)
    if info is None or (group and info.group != group):
        return None
    return info.plural, info.group


def _check_resources(inv: Invocation, verbs: list[str], resources: list[tuple[str, str, str]]) -> None:
    for resource, group, _ in resources:
        if not resource:
            raise ExitError("resource must be specified if apiGroup/subresource specified")
        if resource == "*":
            return
        found = _resolved(resource, group)
        plural, real_group = found or (resource, group)
        for verb in verbs:
            allowed = SPECIAL_VERBS.get(verb)
            if allowed is not None:
                if (real_group, plural) not in allowed:
                    raise ExitError(f"can not perform '{verb}' on '{plural}' in group '{real_group}'")
                found = found or (plural, real_group)
        if found is None:
            name = f"{resource}.{group}" if group else resource
            raise ExitError(f'the server doesn\'t have a resource type "{name}"')


def _rules(verbs: list[str], resources: list[tuple[str, str, str]], names: list[str], urls: list[str]) -> list[dict]:
    """generateResourcePolicyRules: a rule per API group (groups sorted), then one for non-resource URLs."""
    by_group: dict[str, list[str]] = {}
    for resource, group, sub in resources:
        plural, real_group = _resolved(resource, group) or (resource, group)
        if sub:
            plural = f"{plural}/{sub}"
        listed = by_group.setdefault(real_group, [])
        if plural not in listed:
            listed.append(plural)
    rules = []
    for group in sorted(by_group):
        rule: dict = {"apiGroups": [group], "resources": by_group[group], "verbs": verbs}
        if names:
            rule["resourceNames"] = names
        rules.append(rule)
    if urls:
        rules.append({"nonResourceURLs": urls, "verbs": verbs})
    return rules


def _warn_verbs(inv: Invocation, verbs: list[str], valid: tuple[str, ...], what: str) -> None:
    for verb in verbs:
        if verb not in valid:
            inv.error(f"Warning: '{verb}' is not a standard {what} verb\n")


def create_role(inv: Invocation) -> None:
    name = _one_name(inv)
    verbs, resources = _verbs(inv), _resources(inv)
    if not verbs:
        raise ExitError("at least one verb must be specified")
    _warn_verbs(inv, verbs, VALID_RESOURCE_VERBS, "resource")
    if not resources:
        raise ExitError("at least one resource must be specified")
    _check_resources(inv, verbs, resources)
    _submit(inv, {"apiVersion": API_VERSION, "kind": "Role", "metadata": {"creationTimestamp": None, "name": name},
                  "rules": _rules(verbs, resources, list(inv.flags["resource-name"]), [])})


def create_clusterrole(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    obj: dict = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                 "metadata": {"creationTimestamp": None, "name": name}}
    aggregation = f["aggregation-rule"]
    verbs, resources, urls = _verbs(inv), _resources(inv), list(f["non-resource-url"])
    if aggregation:
        if verbs or resources or urls or f["resource-name"]:
            raise ExitError("aggregation rule must be specified without nonResourceURLs, verbs, resources or "
                            "resourceNames")
        labels = {}
        for pair in aggregation.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ExitError(f'invalid argument "{aggregation}" for "--aggregation-rule" flag: {pair} must be '
                                "formatted as key=value")
            labels[key] = value
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": labels}]}
        _submit(inv, obj)
        return
    if not verbs:
        raise ExitError("at least one verb must be specified")
    if not resources and not urls:
        raise ExitError("one of resource or nonResourceURL must be specified")
    if resources:
        _warn_verbs(inv, verbs, VALID_RESOURCE_VERBS, "resource")
        _check_resources(inv, verbs, resources)
    if urls:
        _warn_verbs(inv, verbs, VALID_NON_RESOURCE_VERBS, "non-resource")
        for url in urls:
            if url == "*":
                continue
            if not url.startswith("/"):
                raise ExitError("nonResourceURL should start with /")
            if "*" in url[:-1]:
                raise ExitError("nonResourceURL only supports wildcard matches when '*' is at the end")
    obj["rules"] = _rules(verbs, resources, list(f["resource-name"]), urls)
    _submit(inv, obj)


def _subjects(inv: Invocation) -> list[dict]:
    f = inv.flags
    subjects = [{"apiGroup": GROUP, "kind": "User", "name": user} for user in f["user"]]
    subjects += [{"apiGroup": GROUP, "kind": "Group", "name": group} for group in f["group"]]
    for account in f["serviceaccount"]:
        tokens = account.split(":")
        if len(tokens) != 2 or not tokens[1]:
            raise ExitError("serviceaccount must be <namespace>:<name>")
        subject = {"kind": "ServiceAccount", "name": tokens[1]}
        if tokens[0]:
            subject["namespace"] = tokens[0]
        subjects.append(subject)
    return subjects


def create_rolebinding(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    if bool(f["role"]) == bool(f["clusterrole"]):
        raise ExitError("exactly one of clusterrole or role must be specified")
    kind, role = ("Role", f["role"]) if f["role"] else ("ClusterRole", f["clusterrole"])
    obj = {"apiVersion": API_VERSION, "kind": "RoleBinding", "metadata": {"creationTimestamp": None, "name": name},
           "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role}}
    subjects = _subjects(inv)
    if subjects:
        obj["subjects"] = subjects
    _submit(inv, obj)


def create_clusterrolebinding(inv: Invocation) -> None:
    name = _one_name(inv)
    if not inv.flags["clusterrole"]:
        raise ExitError('required flag(s) "clusterrole" not set')
    obj = {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
           "metadata": {"creationTimestamp": None, "name": name},
           "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": inv.flags["clusterrole"]}}
    subjects = _subjects(inv)
    if subjects:
        obj["subjects"] = subjects
    _submit(inv, obj)


_VERB = flag("verb", SLICE, help="Verb that applies to the resources contained in the rule")
_RESOURCE = flag("resource", SLICE, help="Resource that the rule applies to")
_RESOURCE_NAME = flag("resource-name", ARRAY, help="Resource in the white list that the rule applies to, repeat "
                      "this flag for multiple items")
_SUBJECT_FLAGS = [flag("user", ARRAY, help="Usernames to bind to the role. The flag can be repeated to add multiple "
                       "users."),
                  flag("group", ARRAY, help="Groups to bind to the role. The flag can be repeated to add multiple "
                       "groups."),
                  flag("serviceaccount", ARRAY, help="Service accounts to bind to the role, in the format "
                       "<namespace>:<name>. The flag can be repeated to add multiple service accounts.")]

COMMANDS = [
    Command("role", "Create a role with single rule",
            usage="kubectl create role NAME --verb=verb --resource=resource.group/subresource "
                  "[--resource-name=resourcename] [--dry-run=server|client|none] [options]",
            examples="  # Create a role named \"pod-reader\" that allows user to perform \"get\", \"watch\" and "
                     "\"list\" on pods\n  kubectl create role pod-reader --verb=get --verb=list --verb=watch "
                     "--resource=pods",
            flags=[*_COMMON, _VERB, _RESOURCE, _RESOURCE_NAME], handler=create_role),
    Command("clusterrole", "Create a cluster role",
            usage="kubectl create clusterrole NAME --verb=verb --resource=resource.group "
                  "[--resource-name=resourcename] [--dry-run=server|client|none] [options]",
            examples="  # Create a cluster role named \"pod-reader\" that allows user to perform \"get\", \"watch\" "
                     "and \"list\" on pods\n  kubectl create clusterrole pod-reader --verb=get,list,watch "
                     "--resource=pods",
            flags=[*_COMMON, _VERB, _RESOURCE, _RESOURCE_NAME,
                   flag("non-resource-url", SLICE, help="A partial url that user should have access to."),
                   flag("aggregation-rule", help="An aggregation label selector for combining ClusterRoles.")],
            handler=create_clusterrole),
    Command("rolebinding", "Create a role binding for a particular role or cluster role",
            usage="kubectl create rolebinding NAME --clusterrole=NAME|--role=NAME [--user=username] "
                  "[--group=groupname] [--serviceaccount=namespace:serviceaccountname] "
                  "[--dry-run=server|client|none] [options]",
            examples="  # Create a role binding for user1, user2, and group1 using the admin cluster role\n"
                     "  kubectl create rolebinding admin --clusterrole=admin --user=user1 --user=user2 "
                     "--group=group1",
            flags=[*_COMMON, flag("role", help="Role this RoleBinding should reference"),
                   flag("clusterrole", help="ClusterRole this RoleBinding should reference"), *_SUBJECT_FLAGS],
            handler=create_rolebinding),
    Command("clusterrolebinding", "Create a cluster role binding for a particular cluster role",
            usage="kubectl create clusterrolebinding NAME --clusterrole=NAME [--user=username] "
                  "[--group=groupname] [--serviceaccount=namespace:serviceaccountname] "
                  "[--dry-run=server|client|none] [options]",
            examples="  # Create a cluster role binding for user1, user2, and group1 using the cluster-admin "
                     "cluster role\n  kubectl create clusterrolebinding cluster-admin --clusterrole=cluster-admin "
                     "--user=user1 --user=user2 --group=group1",
            flags=[*_COMMON, flag("clusterrole", help="ClusterRole this ClusterRoleBinding should reference"),
                   *_SUBJECT_FLAGS],
            handler=create_clusterrolebinding),
]

CREATE.add(*COMMANDS)
