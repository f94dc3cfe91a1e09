"""The manifest checks earn their keep: each deliberately broken copy of the strimzi overlay is caught,
with a sentence that says what is wrong."""
from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from functools import cache

import pytest

from . import k8s, k8s_checks
from .k8s_checks import problems

STRIMZI = k8s.K8S / "overlays" / "strimzi"


@cache
def _strimzi() -> list[dict]:
    return k8s.render(STRIMZI)


def find(objects: list[dict], kind: str, name: str) -> dict:
    [obj] = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    return obj


def container(objects: list[dict], deployment: str) -> dict:
    return find(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def env(objects: list[dict], deployment: str, name: str) -> dict:
    [variable] = [v for v in container(objects, deployment)["env"] if v["name"] == name]
    return variable


def acls(objects: list[dict], user: str) -> list[dict]:
    return find(objects, "KafkaUser", user)["spec"]["authorization"]["acls"]


def remove(objects: list[dict], kind: str, name: str) -> None:
    objects.remove(find(objects, kind, name))


Break = Callable[[list[dict]], object]
BROKEN: dict[str, tuple[Break, str]] = {
    # what the schemas catch
    "a misspelt container field": (
        lambda o: container(o, "points-web").update(readinesProbe={"httpGet": {"path": "/readyz", "port": "http"}}),
        "Additional properties are not allowed ('readinesProbe' was unexpected)"),
    "a port number in quotes": (
        lambda o: container(o, "redemption-web")["ports"][0].update(containerPort="8003"),
        "'8003' is not of type 'integer'"),
    "a Deployment without a selector": (
        lambda o: find(o, "Deployment", "impact-worker")["spec"].pop("selector"),
        "'selector' is a required property"),
    "a kind that does not exist": (
        lambda o: find(o, "Deployment", "points-web").update(kind="Deploymnet"),
        "no schema for apps/v1 Deploymnet"),
    "an API version Kubernetes no longer serves": (
        lambda o: find(o, "HorizontalPodAutoscaler", "points-web").update(apiVersion="autoscaling/v2beta2"),
        "no schema for autoscaling/v2beta2 HorizontalPodAutoscaler"),
    "a probe without a handler port": (
        lambda o: container(o, "notifications-web")["livenessProbe"]["httpGet"].pop("port"),
        "'port' is a required property"),
    "a misspelt field of the Kafka listener": (
        lambda o: find(o, "Kafka", "rewards")["spec"]["kafka"]["listeners"][0].update(
            authentification={"type": "scram-sha-512"}),
        "'authentification' was unexpected"),
    "an ACL operation Kafka does not have": (
        lambda o: acls(o, "rewards-redemption")[0].update(operations=["Reed"]),
        "'Reed' is not one of"),
    "partitions in words": (
        lambda o: find(o, "KafkaTopic", "members.v1")["spec"].update(partitions="six"),
        "'six' is not of type 'integer'"),
    "a node pool without roles": (
        lambda o: find(o, "KafkaNodePool", "broker")["spec"].pop("roles"),
        "'roles' is a required property"),
    # what the consistency checks catch
    "a Service selector with a typo": (
        lambda o: find(o, "Service", "points")["spec"]["selector"].update({"app.kubernetes.io/name": "point"}),
        "Service points: its selector"),
    "a Service that also selects the workers": (
        lambda o: find(o, "Service", "redemption")["spec"]["selector"].pop("app.kubernetes.io/component"),
        "Service redemption: targetPort http is not a port of redemption-worker"),
    "a service without its worker": (
        lambda o: remove(o, "Deployment", "impact-worker"),
        "impact: no impact-web and impact-worker Deployments"),
    "a worker running another service's code": (
        lambda o: container(o, "notifications-worker").update(command=["python", "-m", "points.worker"]),
        "notifications-worker: command is not python -m notifications.worker"),
    "an autoscaler for a Deployment that is not there": (
        lambda o: find(o, "HorizontalPodAutoscaler", "impact-web")["spec"]["scaleTargetRef"].update(name="impact"),
        "no HorizontalPodAutoscaler impact-web scaling Deployment impact-web"),
    "a disruption budget that blocks every drain": (
        lambda o: find(o, "PodDisruptionBudget", "points-web")["spec"].update(minAvailable=2),
        "minAvailable 2 with 2 replicas blocks every drain"),
    "a key the Secret does not have": (
        lambda o: env(o, "points-web", "DATABASE_URL")["valueFrom"]["secretKeyRef"].update(key="DATABASE_UR"),
        "reads rewards-database/DATABASE_UR, which nothing creates"),
    "a key file nobody mounts": (
        lambda o: env(o, "transit-ingest-worker", "CARD_HMAC_KEY_FILE").update(value="/etc/rewards/card.key"),
        "CARD_HMAC_KEY_FILE=/etc/rewards/card.key is not a file any Secret volume puts there"),
    "readiness that is not /readyz": (
        lambda o: container(o, "impact-web")["readinessProbe"]["httpGet"].update(path="/ready"),
        "readinessProbe is not GET /readyz"),
    "a container running as root": (
        lambda o: find(o, "Deployment", "redemption-worker")["spec"]["template"]["spec"]["securityContext"].update(
            runAsUser=0),
        "redemption-worker: does not run as the image's non-root user"),
    "a writable root filesystem": (
        lambda o: container(o, "points-worker")["securityContext"].update(readOnlyRootFilesystem=False),
        "points-worker/worker: writable root filesystem"),
    "no memory limit": (
        lambda o: container(o, "impact-web")["resources"]["limits"].pop("memory"),
        "impact-web/web: no limits for memory"),
    "a scrape annotation on the wrong port": (
        lambda o: find(o, "Deployment", "points-worker")["spec"]["template"]["metadata"]["annotations"].update(
            {"prometheus.io/port": "8001"}),
        "prometheus.io/port 8001 is not its metrics port 9100"),
    "web open on every port": (
        lambda o: find(o, "NetworkPolicy", "rewards-web-ingress")["spec"]["ingress"][0].pop("ports"),
        "reachable on [('*', 'TCP')"),
    "an ingress rule open to the world": (
        lambda o: find(o, "NetworkPolicy", "rewards-web-ingress")["spec"]["ingress"][0].pop("from"),
        "an ingress rule open to every source"),
    "no egress to the brokers": (
        lambda o: find(o, "NetworkPolicy", "rewards-egress")["spec"]["egress"].pop(),
        "cannot reach [(9093, 'TCP')]"),
    "a migration Job that forgets a service": (
        lambda o: find(o, "Job", "rewards-migrate")["spec"]["template"]["spec"]["initContainers"].pop(),
        "the migration Job does not migrate impact"),
    "half a Kafka configuration": (
        lambda o: container(o, "points-worker")["env"].remove(env(o, "points-worker", "KAFKA_SASL_PASSWORD_FILE")),
        "needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"),
    "a worker signing in as another service": (
        lambda o: env(o, "impact-worker", "KAFKA_SASL_USERNAME").update(value="rewards-points"),
        "impact-worker/worker: signs in as rewards-points, not as KafkaUser rewards-impact"),
    "clients on a port the cluster does not listen on": (
        lambda o: find(o, "ConfigMap", "rewards-config")["data"].update(
            KAFKA_BOOTSTRAP_SERVERS="rewards-kafka-bootstrap.smart-leeds-rewards.svc:9092"),
        "is not the bootstrap Service of Kafka rewards"),
    "a plaintext listener": (
        lambda o: find(o, "Kafka", "rewards")["spec"]["kafka"]["listeners"].append(
            {"name": "plain", "port": 9092, "type": "internal", "tls": False}),
        "listener plain is not TLS with SCRAM-SHA-512"),
    "an ACL on a topic nobody creates": (
        lambda o: acls(o, "rewards-points")[0]["resource"].update(name="transit.journey.v1"),
        "an ACL on topic transit.journey.v1, which no KafkaTopic creates"),
    "an ACL beyond the service's own topics": (
        lambda o: acls(o, "rewards-transit-ingest").append(
            {"resource": {"type": "topic", "name": "ledger.events.v1", "patternType": "literal"},
             "operations": ["Read"]}),
        "KafkaUser rewards-transit-ingest: ACLs beyond its own topics and group [('topic', 'ledger.events.v1'"),
    "a prefix ACL": (
        lambda o: acls(o, "rewards-notifications")[0]["resource"].update(patternType="prefix"),
        "an ACL that is not one literal allow"),
    "a dead-letter topic missing": (
        lambda o: remove(o, "KafkaTopic", "members.v1.impact.dlq"),
        "no KafkaTopic members.v1.impact.dlq"),
    "credentials.v1 with the wrong partitions": (
        lambda o: find(o, "KafkaTopic", "credentials.v1")["spec"].update(partitions=6),
        "KafkaTopic credentials.v1: 6 partitions, the code expects 1"),
    "credentials.v1 not compacted": (
        lambda o: find(o, "KafkaTopic", "credentials.v1")["spec"].pop("config"),
        "KafkaTopic credentials.v1: cleanup.policy is not compact"),
    "a Strimzi resource with the rewards pod label": (
        lambda o: find(o, "Kafka", "rewards")["metadata"].setdefault("labels", {}).update(
            {"app.kubernetes.io/part-of": "smart-leeds-rewards"}),
        "Kafka rewards: Strimzi copies its app.kubernetes.io/part-of label to its pods"),
    "an even number of controllers": (
        lambda o: find(o, "KafkaNodePool", "controller")["spec"].update(replicas=2),
        "2 controllers; a KRaft quorum needs an odd number"),
}


def test_the_unbroken_overlay_has_no_problems():
    assert problems(copy.deepcopy(_strimzi())) == []


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_manifest_is_caught(broken):
    objects = copy.deepcopy(_strimzi())
    breaking, complaint = BROKEN[broken]
    breaking(objects)
    found = problems(objects)
    assert any(complaint in problem for problem in found), found


def test_the_command_line_reports_a_broken_overlay_on_disk(tmp_path, capsys):
    copied = tmp_path / "k8s"
    shutil.copytree(k8s.K8S, copied)
    users = copied / "overlays" / "strimzi" / "users.yaml"
    users.write_text(users.read_text().replace("name: ledger.events.v1\n", "name: ledger.event.v1\n", 1))
    assert k8s_checks.main([str(copied / "overlays" / "plain")]) == 0
    assert k8s_checks.main([str(copied / "overlays" / "strimzi")]) == 1
    output = capsys.readouterr().out
    assert "an ACL on topic ledger.event.v1, which no KafkaTopic creates" in output
    assert "plain: 38 objects, valid" in output


def test_the_renderer_refuses_kustomize_features_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: staging-\n")
    with pytest.raises(k8s.Unsupported, match="namePrefix"):
        k8s.render(tmp_path)
