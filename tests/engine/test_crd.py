"""CustomResourceDefinitions: defaults, kube-apiserver's validation messages, and the naming/establishing conditions."""

import pytest

from engine import errors
from engine.resources import registry, tables
from tests.engine.cluster import make_cluster


def crontab_crd(**overrides) -> dict:
    names = {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]}
    names.update(overrides.pop("names", {}))
    spec = {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": names,
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "cronSpec": {"type": "string"},
                "replicas": {"type": "integer", "default": 1, "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "object", "additionalProperties": {"type": "string"}},
                "anything": {"x-kubernetes-preserve-unknown-fields": True},
            }}}}},
            "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}],
        }],
    }
    spec.update(overrides)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{names['plural']}.{spec['group']}"}, "spec": spec}


@pytest.fixture
def sim():
    return make_cluster(workers=0)


def invalid_message(sim, body) -> str:
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(body)
    assert caught.value.code == 422, caught.value.message
    return caught.value.message


def test_registry_resolves_crd_short_names():
    info = registry.resolve("crd")
    assert info is registry.resolve("crds") is registry.resolve("customresourcedefinitions.apiextensions.k8s.io")
    assert (info.kind, info.group, info.version, info.namespaced) == (
        "CustomResourceDefinition", "apiextensions.k8s.io", "v1", False)


def test_create_defaults_and_initial_status(sim):
    created = sim.api.create(crontab_crd(names={"singular": ""}))
    spec = created["spec"]
    assert spec["names"]["singular"] == "crontab"
    assert spec["names"]["listKind"] == "CronTabList"
    assert spec["conversion"] == {"strategy": "None"}
    # A schema's default, additionalProperties and x-kubernetes-* keys pass strict decoding untouched.
    props = spec["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert props["replicas"]["default"] == 1
    assert props["extra"]["additionalProperties"] == {"type": "string"}
    assert created["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}


def test_unknown_schema_field_is_a_strict_decoding_error(sim):
    body = crontab_crd()
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["propertiez"] = {}
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(body)
    assert caught.value.code == 400
    assert 'unknown field "spec.versions[0].schema.openAPIV3Schema.propertiez"' in caught.value.message


def test_controllers_accept_names_and_establish(sim):
    sim.api.create(crontab_crd())
    sim.tick(1)
    crd = sim.api.get("CustomResourceDefinition", "", "crontabs.stable.example.com")
    status = crd["status"]
    assert status["acceptedNames"] == {"plural": "crontabs", "singular": "crontab", "shortNames": ["ct"],
                                       "kind": "CronTab", "listKind": "CronTabList"}
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
    assert conditions == {
        "NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
        "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted"),
    }
    assert [c["type"] for c in status["conditions"]] == ["NamesAccepted", "Established"]
    assert status["storedVersions"] == ["v1"]


def test_plural_taken_in_the_group_is_not_accepted(sim):
    sim.api.create(crontab_crd())
    sim.tick(1)
    other = crontab_crd(names={"kind": "OtherTab", "singular": "othertab", "shortNames": []})
    other["metadata"]["name"] = "crontabs.stable.example.com"
    # The same name is taken outright; a second CRD reaching the plural through another group is fine.
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(other)
    assert caught.value.code == 409
    clash = crontab_crd(names={"plural": "ct", "kind": "Clash", "singular": "clash", "shortNames": []})
    sim.api.create(clash)
    sim.tick(1)
    status = sim.api.get("CustomResourceDefinition", "", "ct.stable.example.com")["status"]
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
    assert conditions["NamesAccepted"] == ("False", "PluralConflict", '"ct" is already in use')
    assert conditions["Established"] == ("False", "NotAccepted", "not all names are accepted")
    assert status["acceptedNames"] == {"plural": "", "kind": ""}


def test_name_must_be_plural_dot_group(sim):
    body = crontab_crd()
    body["metadata"]["name"] = "crontab.stable.example.com"
    assert invalid_message(sim, body) == (
        'CustomResourceDefinition.apiextensions.k8s.io "crontab.stable.example.com" is invalid: metadata.name: '
        'Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group')


def test_plural_must_be_lowercase(sim):
    body = crontab_crd(names={"plural": "CronTabs"})
    message = invalid_message(sim, body)
    assert ('spec.names.plural: Invalid value: "CronTabs": a DNS-1035 label must consist of lower case alphanumeric '
            "characters or '-', start with an alphabetic character, and end with an alphanumeric character") in message
    assert "metadata.name" in message  # CronTabs.stable.example.com is no DNS subdomain either


def test_kind_may_be_mixed_case_but_not_a_bad_label(sim):
    message = invalid_message(sim, crontab_crd(names={"kind": "Cron_Tab", "listKind": "CronTabList"}))
    assert 'spec.names.kind: Invalid value: "Cron_Tab": may have mixed case, but should otherwise match: ' in message


def test_group_needs_a_dot_and_scope_a_known_value(sim):
    message = invalid_message(sim, crontab_crd(group="example", scope="Global"))
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in message
    assert 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"' in message


def test_exactly_one_storage_version(sim):
    body = crontab_crd()
    body["spec"]["versions"][0]["storage"] = False
    message = invalid_message(sim, body)
    assert "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{" in message
    assert "must have exactly one version marked as storage version" in message
    assert "status.storedVersions: Invalid value: []string{}: must have at least one stored version" in message


def test_v1_needs_a_structural_schema(sim):
    body = crontab_crd()
    del body["spec"]["versions"][0]["schema"]
    assert invalid_message(sim, body).endswith(
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required")
    body = crontab_crd()
    body["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": {"properties": {"spec": {"properties": {}}}}}
    message = invalid_message(sim, body)
    assert "spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root" in message
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
            "specified object fields") in message


def test_printer_column_type(sim):
    body = crontab_crd()
    body["spec"]["versions"][0]["additionalPrinterColumns"] = [{"name": "Spec", "type": "text", "jsonPath": ""}]
    message = invalid_message(sim, body)
    assert ('spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "text": supported values: '
            '"boolean", "date", "integer", "number", "string"') in message
    assert "spec.versions[0].additionalPrinterColumns[0].jsonPath: Required value" in message


def test_group_is_immutable(sim):
    created = sim.api.create(crontab_crd())
    created["spec"]["group"] = "other.example.com"
    with pytest.raises(errors.ApiError) as caught:
        sim.api.update(created)
    assert 'spec.group: Invalid value: "other.example.com": field is immutable' in caught.value.message


def test_table_is_name_and_created_at(sim):
    created = sim.api.create(crontab_crd())
    info = registry.by_kind("CustomResourceDefinition")
    table = tables.table(info, [created], sim.clock.now())
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["crontabs.stable.example.com", created["metadata"]["creationTimestamp"]]


# --- custom resources --------------------------------------------------------------------------


def crontab(name="my-cron", **spec) -> dict:
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": name},
            "spec": {"cronSpec": "* * * * */5", **spec}}


@pytest.fixture
def served(sim):
    sim.api.create(crontab_crd())
    sim.tick(1)
    return sim


def test_custom_objects_are_not_served_before_the_crd_is_established(sim):
    sim.api.create(crontab_crd())
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(crontab())
    assert caught.value.code == 400
    assert 'no kind "CronTab" is registered for version "stable.example.com/v1"' in caught.value.message


def test_custom_object_crud_with_schema_defaults(served):
    api = served.api
    created = api.create(crontab(tags=["a"]))
    assert created["apiVersion"] == "stable.example.com/v1"
    assert created["metadata"]["namespace"] == "default"
    assert created["spec"]["replicas"] == 1  # the schema's default
    assert api.get("CronTab", "default", "my-cron")["metadata"]["uid"] == created["metadata"]["uid"]
    assert [o["metadata"]["name"] for o in api.list("CronTab", "default")["items"]] == ["my-cron"]
    patched = api.patch("CronTab", "default", "my-cron", {"spec": {"replicas": 3}}, "application/merge-patch+json")
    assert patched["spec"]["replicas"] == 3 and patched["metadata"]["generation"] == 2
    api.delete("CronTab", "default", "my-cron")
    assert api.list("CronTab", "default")["items"] == []


def test_custom_object_unknown_fields_and_types(served):
    with pytest.raises(errors.ApiError) as caught:
        served.api.create(crontab(cronspec="x"))
    assert caught.value.code == 400
    assert caught.value.message == ('CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
                                    'unknown field "spec.cronspec"')
    with pytest.raises(errors.ApiError) as caught:
        served.api.create(crontab(replicas="two"))
    assert caught.value.message == ('CronTab.stable.example.com "my-cron" is invalid: spec.replicas: Invalid value: '
                                    '"string": spec.replicas in body must be of type integer: "string"')
    with pytest.raises(errors.ApiError) as caught:
        served.api.create(crontab(replicas=0))
    assert caught.value.message.endswith("spec.replicas: Invalid value: 0: spec.replicas in body should be greater "
                                         "than or equal to 1")
    from engine.apiserver import RequestContext

    ctx = RequestContext(field_validation="Ignore")
    created = served.api.create(crontab(cronspec="x"), ctx=ctx)
    assert "cronspec" not in created["spec"]  # pruned


def test_custom_table_uses_printer_columns(served):
    from engine.resources import custom

    created = served.api.create(crontab())
    info = custom.by_kind(served.api.store, "CronTab")
    assert [c["name"] for c in custom.table_columns(info)] == ["Name", "Spec"]
    assert custom.table_cells(info, created, served.clock.now()) == ["my-cron", "* * * * */5"]


def test_deleting_the_crd_deletes_its_objects(served):
    api = served.api
    api.create(crontab("a"))
    api.create(crontab("b"))
    result = api.delete("CustomResourceDefinition", "", "crontabs.stable.example.com")
    assert not result.finished
    crd = result.object
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    terminating = [c for c in crd["status"]["conditions"] if c["type"] == "Terminating"]
    assert terminating[0]["reason"] == "InstanceDeletionPending"
    with pytest.raises(errors.ApiError) as caught:
        api.create(crontab("c"))
    assert (caught.value.code, caught.value.message) == (
        405, "create not allowed while custom resource definition is terminating")
    served.tick(1)
    assert api.store.get("CustomResourceDefinition", "", "crontabs.stable.example.com") is None
    assert api.store.list("CronTab")[0] == []
    with pytest.raises(errors.ApiError) as caught:
        api.list("CronTab", "default")
    assert caught.value.code == 404


def test_web_terminal_kubectl_finds_custom_kinds(served):
    import yaml

    from engine.kubectl import Context, run

    ctx = Context()
    result = run("kubectl apply -f ct.yaml", served.api, served.clock.now(), ctx,
                 files={"ct.yaml": yaml.safe_dump(crontab())})
    assert result.stdout == "crontab.stable.example.com/my-cron created\n"
    assert run("kubectl get ct", served.api, served.clock.now(), ctx).stdout.splitlines() == [
        "NAME      SPEC", "my-cron   * * * * */5"]
    assert run("kubectl get crd", served.api, served.clock.now(), ctx).stdout.splitlines()[0].split() == [
        "NAME", "CREATED", "AT"]
    resources = run("kubectl api-resources --api-group=stable.example.com", served.api, served.clock.now(), ctx)
    assert resources.stdout.splitlines()[1].split() == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    assert "stable.example.com/v1" in run("kubectl api-versions", served.api, served.clock.now(), ctx).stdout
    missing = run("kubectl get widgets", served.api, served.clock.now(), ctx)
    assert missing.exit_code == 1
    assert 'the server doesn\'t have a resource type "widgets"' in missing.stderr


def test_status_subresource_of_a_custom_kind(sim):
    body = crontab_crd()
    body["spec"]["versions"][0]["subresources"] = {"status": {}}
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"] = {
        "type": "object", "properties": {"lastScheduleTime": {"type": "string"}}}
    sim.api.create(body)
    sim.tick(1)
    created = sim.api.create({**crontab(), "status": {"lastScheduleTime": "now"}})
    assert "status" not in created  # only the status subresource writes it
    created["status"] = {"lastScheduleTime": "2026-01-01T00:00:00Z"}
    updated = sim.api.update(created, subresource="status")
    assert updated["status"] == {"lastScheduleTime": "2026-01-01T00:00:00Z"}
    assert updated["metadata"]["generation"] == 1


def test_deleting_a_namespace_deletes_its_custom_objects(served):
    served.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    served.api.create(crontab(), namespace="team")
    served.api.delete("Namespace", "", "team")
    served.tick(5)
    assert served.api.store.get("Namespace", "", "team") is None
    assert served.api.store.list("CronTab")[0] == []


def test_printer_columns_typed_cells_and_the_default_age(sim):
    from engine.resources import custom

    body = crontab_crd()
    body["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    sim.api.create(body)
    plain = crontab_crd(names={"plural": "widgets", "kind": "Widget", "singular": "widget", "shortNames": []})
    del plain["spec"]["versions"][0]["additionalPrinterColumns"]
    sim.api.create(plain)
    sim.tick(1)
    created = sim.api.create(crontab(tags=["a"]))
    info = custom.by_kind(sim.api.store, "CronTab")
    # A list in a string column is no string: <none>, as the tableconvertor's cellForJSONValue has it.
    assert custom.table_cells(info, created, sim.clock.now() + 120) == ["my-cron", 1, None, "2m"]
    widget = sim.api.create({"apiVersion": "stable.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    winfo = custom.by_kind(sim.api.store, "Widget")
    assert [c["name"] for c in custom.table_columns(winfo)] == ["Name", "Age"]
    assert custom.table_cells(winfo, widget, sim.clock.now() + 30) == ["w", "30s"]


def test_custom_object_map_values_enum_and_required(sim):
    body = crontab_crd()
    spec_schema = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["required"] = ["cronSpec"]
    spec_schema["properties"]["mode"] = {"type": "string", "enum": ["Fast", "Slow"]}
    sim.api.create(body)
    sim.tick(1)
    bad = crontab(extra={"a": 1}, mode="Medium")
    del bad["spec"]["cronSpec"]
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(bad)
    causes = [(c.field, c.message) for c in caught.value.causes]
    assert ("spec.cronSpec", "Required value") in causes
    assert ("spec.extra.a", 'Invalid value: "integer": spec.extra.a in body must be of type string: "integer"') in causes
    assert ("spec.mode", 'Unsupported value: "Medium": supported values: "Fast", "Slow"') in causes
