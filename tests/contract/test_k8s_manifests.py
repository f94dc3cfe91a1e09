"""deploy/k8s, offline: each overlay renders, every object parses as the kind it claims (Kubernetes' and
Strimzi's schemas, strictly), and the objects fit each other and the services the code defines."""
from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from rewards_shared.service import discover

from . import k8s
from .k8s_checks import CHECKS, SERVICES, strimzi, worker_topics

RENDERINGS = [k8s.K8S / "base", *k8s.OVERLAYS]
IDS = [path.name for path in RENDERINGS]


@cache
def _rendered(directory: Path) -> list[dict]:
    return k8s.render(directory)


def rendered(directory: Path) -> list[dict]:
    return copy.deepcopy(_rendered(directory))


def by_identity(objects: list[dict]) -> dict:
    return {k8s.identity(obj): obj for obj in objects}


def test_operators_choose_between_their_own_kafka_and_strimzi():
    assert [path.name for path in k8s.OVERLAYS] == ["plain", "strimzi"]
    assert not strimzi(rendered(k8s.K8S / "overlays" / "plain"))
    assert strimzi(rendered(k8s.K8S / "overlays" / "strimzi"))


@pytest.mark.parametrize("directory", RENDERINGS, ids=IDS)
def test_the_rendering_is_kustomizes(directory):
    theirs = k8s.kubectl_render(directory)
    if theirs is None:
        pytest.skip("no kubectl here; the renderer refuses any kustomize feature it does not implement")
    assert by_identity(rendered(directory)) == by_identity(theirs)


@pytest.mark.parametrize("version", k8s.KUBERNETES_VERSIONS)
@pytest.mark.parametrize("directory", RENDERINGS, ids=IDS)
def test_every_object_parses_as_the_kind_it_claims(directory, version):
    errors = {f"{obj['kind']} {obj['metadata']['name']}": k8s.schema_errors(obj, version)
              for obj in rendered(directory)}
    assert {name: found for name, found in errors.items() if found} == {}


@pytest.mark.parametrize("version", k8s.KUBERNETES_VERSIONS)
def test_the_secret_template_parses_as_secrets(version):
    docs = k8s.load(k8s.K8S / "base" / "secrets.example.yaml")
    assert {doc["kind"] for doc in docs} == {"Secret"}
    assert [k8s.schema_errors(doc, version) for doc in docs] == [[] for _ in docs]


def test_the_secret_template_is_not_applied_with_the_deployment():
    """`kubectl apply -k` would otherwise put the placeholders back over the real Secrets."""
    for directory in RENDERINGS:
        assert not [obj for obj in rendered(directory) if obj["kind"] == "Secret"], directory


def test_the_strimzi_schemas_are_strict_json_schemas_of_the_kinds_the_overlay_uses():
    folder = k8s.strimzi_schema_dir()
    kinds = {obj["kind"] for obj in rendered(k8s.K8S / "overlays" / "strimzi")
             if obj["apiVersion"].startswith("kafka.strimzi.io/")}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    for kind in kinds:
        schema = json.loads(k8s.schema_path("kafka.strimzi.io/v1beta2", kind, k8s.KUBERNETES_VERSIONS[0]).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["spec"]["additionalProperties"] is False, kind
        assert f"io.strimzi:api:{folder.name.removeprefix('strimzi-')}:jar:tests" in schema["$comment"], kind


@pytest.mark.parametrize("check", CHECKS, ids=[check.__name__.removeprefix("check_") for check in CHECKS])
@pytest.mark.parametrize("directory", RENDERINGS, ids=IDS)
def test_the_objects_fit_each_other_and_the_services(directory, check):
    assert list(check(rendered(directory))) == []


@pytest.mark.parametrize("name", sorted(discover()))
def test_each_installed_service_is_the_one_the_manifests_are_checked_against(name):
    """The checks hold the manifests to SERVICES; this holds SERVICES to the code, so a new service, port
    or consumed topic fails here until deploy/k8s (and SERVICES) follow."""
    assert name in SERVICES, f"{name} is installed but deploy/k8s does not run it"
    info, service = discover()[name], SERVICES[name]
    assert (info.default_port, info.package) == (service.port, service.package)
    try:
        topics = worker_topics(name)
    except Exception as error:  # a worker module of a shape worker_topics does not know yet
        pytest.fail(f"cannot read the topics {name}'s worker consumes ({error!r}): teach k8s_checks.worker_topics")
    assert sorted(topics) == sorted(service.consumes)
