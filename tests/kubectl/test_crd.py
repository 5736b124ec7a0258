"""CustomResourceDefinitions with the real kubectl: apply, get, describe, the apiserver's errors, delete."""

from __future__ import annotations

import json

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames:
    - ct
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec:
                type: string
              image:
                type: string
              replicas:
                type: integer
                default: 1
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
"""


def test_apply_get_describe_and_delete_a_crd(kubectl):
    path = kubectl.write("crontab-crd.yaml", CRD)
    assert kubectl("apply", "-f", str(path)).stdout.strip() == (
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created")
    out = kubectl("get", "crd")
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split()[0] == "crontabs.stable.example.com"
    assert lines[1].split()[1].endswith("Z")

    def established(text: str) -> bool:
        try:
            conditions = json.loads(text)["status"].get("conditions") or []
        except ValueError:
            return False
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    text = kubectl.wait_for(established, "get", "crd", "crontabs.stable.example.com", "-o", "json", timeout=20)
    status = json.loads(text)["status"]
    assert status["acceptedNames"]["kind"] == "CronTab"
    assert status["storedVersions"] == ["v1"]

    described = kubectl("describe", "crd", "crontabs.stable.example.com").stdout
    assert "Name:         crontabs.stable.example.com" in described
    assert "NamesAccepted" in described and "Established" in described

    # Applying it again changes nothing.
    assert kubectl("apply", "-f", str(path)).stdout.strip().endswith("unchanged")
    assert kubectl("delete", "crd", "crontabs.stable.example.com").stdout.strip() == (
        'customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted')
    assert kubectl("get", "crd").stderr.strip() == "No resources found"


def test_the_apiservers_messages_for_a_bad_crd(kubectl):
    bad = CRD.replace("name: crontabs.stable.example.com", "name: crontab.stable.example.com")
    bad = bad.replace("plural: crontabs", "plural: CronTabs")
    path = kubectl.write("bad-crd.yaml", bad)
    done = kubectl("apply", "-f", str(path), check=False)
    assert done.returncode == 1
    assert 'The CustomResourceDefinition "crontab.stable.example.com" is invalid: ' in done.stderr
    assert 'metadata.name: Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group' \
        in done.stderr
    assert 'spec.names.plural: Invalid value: "CronTabs": a DNS-1035 label must consist of lower case' in done.stderr

    typo = CRD.replace("    served: true", "    served: true\n    storag: true")
    done = kubectl("apply", "-f", str(kubectl.write("typo-crd.yaml", typo)), check=False)
    assert done.returncode == 1
    assert 'unknown field "spec.versions[0].storag"' in done.stderr


CRONTAB = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"""


def test_custom_objects_served_by_a_crd(kubectl):
    kubectl("apply", "-f", str(kubectl.write("crontab-crd2.yaml", CRD)))
    kubectl.wait_for(lambda out: "crontabs" in out, "api-resources", "--api-group=stable.example.com", timeout=20)
    path = kubectl.write("crontab.yaml", CRONTAB)
    assert kubectl("apply", "-f", str(path)).stdout.strip() == "crontab.stable.example.com/my-new-cron-object created"
    lines = kubectl("get", "crontab").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SPEC"]
    assert lines[1].split() == ["my-new-cron-object", "*", "*", "*", "*", "*/5"]
    got = json.loads(kubectl("get", "ct", "my-new-cron-object", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 1  # the schema's default
    assert kubectl("apply", "-f", str(path)).stdout.strip().endswith("unchanged")
    explained = kubectl("explain", "crontab.spec").stdout
    assert "GROUP:      stable.example.com" in explained
    assert "cronSpec\t<string>" in explained

    typo = CRONTAB.replace("  image:", "  imagee:")
    done = kubectl("apply", "-f", str(kubectl.write("crontab-typo.yaml", typo)), check=False)
    assert done.returncode == 1
    assert 'unknown field "spec.imagee"' in done.stderr

    kubectl("delete", "crd", "crontabs.stable.example.com")
    # api-resources reads discovery afresh: the type is gone with its CRD, and so are its objects.
    assert "crontabs" not in kubectl("api-resources", "--api-group=stable.example.com").stdout
    done = kubectl("get", "crontabs.stable.example.com", check=False)
    assert done.returncode == 1
    assert "the server doesn't have a resource type" in done.stderr

    # Made again, the CRD starts empty: deleting it deleted its objects.
    kubectl("apply", "-f", str(kubectl.write("crontab-crd3.yaml", CRD)))
    kubectl.wait_for(lambda out: "crontabs" in out, "api-resources", "--api-group=stable.example.com", timeout=20)
    assert kubectl("get", "crontabs").stderr.strip() == "No resources found in default namespace."
    kubectl("delete", "crd", "crontabs.stable.example.com")
