"""What a schema cannot see in the rendered manifests: that the objects fit each other and the services.

Each check takes every object of one rendering and returns its problems as sentences ([] when there
are none), so a test can show it failing on a broken copy as easily as passing on the real thing.
Run it over any kustomization, your own overlay included:

    .venv/bin/python -m tests.contract.k8s_checks deploy/k8s/overlays/strimzi
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rewards_shared import kafka
from rewards_shared.service import discover
from rewards_shared.topics import CREDENTIALS, TOPICS, dead_letter_topic

from . import k8s

PART_OF = "app.kubernetes.io/part-of"
APP = "smart-leeds-rewards"
SECRET_TEMPLATE = k8s.K8S / "base" / "secrets.example.yaml"


@dataclass(frozen=True)
class Service:
    port: int
    package: str
    consumes: tuple[str, ...]  # besides credentials.v1, which every worker consumes
    produces: tuple[str, ...]


# The design's table of services (docs: DESIGN.md, "Shape"). `test_k8s_manifests` holds every
# installed service to it, so the manifests are checked against what the code does.
SERVICES = {
    "points": Service(8001, "points", ("transit.journeys.v1", "volunteering.attendances.v1", "activities.v1",
                                       "redemption.events.v1", "members.v1"),
                      ("ledger.events.v1", "volunteering.attendances.v1", "activities.v1", "members.v1")),
    # every service answers subject access requests on members.v1 (member.export_part)
    "transit-ingest": Service(8002, "transit_ingest", ("members.v1",), ("transit.journeys.v1", "members.v1")),
    "redemption": Service(8003, "redemption", ("ledger.events.v1", "members.v1"),
                          ("redemption.events.v1", "members.v1")),
    "notifications": Service(8004, "notifications", ("ledger.events.v1", "redemption.events.v1", "members.v1"),
                             ("members.v1",)),
    "impact": Service(8005, "impact", ("transit.journeys.v1", "volunteering.attendances.v1", "activities.v1",
                                       "ledger.events.v1", "redemption.events.v1", "members.v1"), ("members.v1",)),
}


def consumed(service: str) -> list[str]:
    return list(dict.fromkeys([*SERVICES[service].consumes, CREDENTIALS]))


def worker_topics(service: str) -> list[str] | None:
    """The topics the installed service's worker subscribes to (its WorkerSpec); None if not installed."""
    info = discover().get(service)
    if info is None:
        return None
    return list(importlib.import_module(f"{info.package}.bootstrap").TOPICS)


# What the objects say


def named(objects: list[dict], kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def workloads(objects: list[dict]) -> Iterator[dict]:
    return (obj for obj in objects if k8s.pod_spec(obj) is not None)


def pod_labels(obj: dict) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"].get("labels", {})


def service_of(obj: dict) -> str | None:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/name")


def component(obj: dict) -> str | None:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def selects(selector: dict, labels: dict[str, str]) -> bool:
    if set(selector) - {"matchLabels"}:
        raise ValueError(f"selector with {sorted(set(selector) - {'matchLabels'})}: not checked here")
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def config_maps(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {name: obj.get("data", {}) for name, obj in named(objects, "ConfigMap").items()}


def secrets(objects: list[dict]) -> dict[str, set[str]]:
    """Secrets the deployment expects to exist, by name → keys: the template's, and those Strimzi writes."""
    known = {doc["metadata"]["name"]: set(doc.get("stringData", {})) | set(doc.get("data", {}))
             for doc in k8s.load(SECRET_TEMPLATE)}
    for obj in objects:
        if obj["kind"] == "Secret":
            known[obj["metadata"]["name"]] = set(obj.get("stringData", {})) | set(obj.get("data", {}))
        elif obj["kind"] == "KafkaUser":
            known[obj["metadata"]["name"]] = {"password", "sasl.jaas.config"}
        elif obj["kind"] == "Kafka":
            known[f"{obj['metadata']['name']}-cluster-ca-cert"] = {"ca.crt", "ca.p12", "ca.password"}
    return known


def environment(container: dict, objects: list[dict]) -> dict[str, str]:
    """The variables the process sees that have literal values (envFrom ConfigMaps, then env)."""
    env: dict[str, str] = {}
    maps = config_maps(objects)
    for source in container.get("envFrom", []):
        env.update(maps.get(source.get("configMapRef", {}).get("name"), {}))
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
    return env


def mounted_files(spec: dict, container: dict) -> dict[str, tuple[str, str]]:
    """Path → (secret, key) of every file a container gets from a Secret volume."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    files = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if not secret:
            continue
        for item in secret.get("items", []):
            files[str(PurePosixPath(mount["mountPath"]) / item["path"])] = (secret["secretName"], item["key"])
    return files


def container_ports(spec: dict) -> dict[str, int]:
    return {port.get("name", str(port["containerPort"])): port["containerPort"]
            for container in spec.get("containers", []) for port in container.get("ports", [])}


def repository(image: str) -> str:
    """The image without its tag or digest; its last path segment names the service."""
    return k8s.image_name(image)


def is_kafka_client(container: dict) -> bool:
    command = container.get("command", [])
    return container["name"] == "worker" or command[:2] == ["rewards", "topics"]


# The checks


def check_every_service_runs_web_and_worker(objects: list[dict]) -> Iterator[str]:
    deployments, services = named(objects, "Deployment"), named(objects, "Service")
    hpas, pdbs = named(objects, "HorizontalPodAutoscaler"), named(objects, "PodDisruptionBudget")
    for name, service in SERVICES.items():
        web, worker = deployments.get(f"{name}-web"), deployments.get(f"{name}-worker")
        if not web or not worker:
            yield f"{name}: no {name}-web and {name}-worker Deployments"
            continue
        [web_container], [worker_container] = web["spec"]["template"]["spec"]["containers"], \
            worker["spec"]["template"]["spec"]["containers"]
        if container_ports(web["spec"]["template"]["spec"]).get("http") != service.port:
            yield f"{name}-web: no port named http on {service.port}"
        if environment(web_container, objects).get("PORT", str(service.port)) != str(service.port):
            yield f"{name}-web: PORT is not {service.port}"
        if "command" in web_container or "args" in web_container:
            yield f"{name}-web: replaces the image's gunicorn command"
        if worker_container.get("command") != ["python", "-m", f"{service.package}.worker"]:
            yield f"{name}-worker: command is not python -m {service.package}.worker"
        for deployment in (web, worker):
            image = repository(deployment["spec"]["template"]["spec"]["containers"][0]["image"])
            if image.rsplit("/", 1)[-1] != name:
                yield f"{deployment['metadata']['name']}: runs image {image}, not {name}'s"
            if (service_of(deployment), service_of({"metadata": deployment["spec"]["template"]["metadata"]})) \
                    != (name, name):
                yield f"{deployment['metadata']['name']}: not labelled app.kubernetes.io/name={name}"
        if name not in services or [p["port"] for p in services[name]["spec"]["ports"]] != [service.port]:
            yield f"{name}: no Service {name} on port {service.port}"
        hpa = hpas.get(f"{name}-web")
        if not hpa or hpa["spec"]["scaleTargetRef"] != {"apiVersion": "apps/v1", "kind": "Deployment",
                                                         "name": f"{name}-web"}:
            yield f"{name}: no HorizontalPodAutoscaler {name}-web scaling Deployment {name}-web"
        for deployment in (web, worker):
            if not any(selects(pdb["spec"]["selector"], pod_labels(deployment)) for pdb in pdbs.values()):
                yield f"{deployment['metadata']['name']}: no PodDisruptionBudget"
    for name, deployment in deployments.items():
        if service_of(deployment) not in SERVICES:
            yield f"Deployment {name}: of no known service"


def check_selectors_match(objects: list[dict]) -> Iterator[str]:
    pods = list(workloads(objects))
    for obj in pods:
        if obj["kind"] == "Deployment" and not selects(obj["spec"]["selector"], pod_labels(obj)):
            yield f"Deployment {obj['metadata']['name']}: its selector does not match its own pods"
        for other in pods:
            if other is not obj and obj["kind"] == "Deployment" \
                    and selects(obj["spec"]["selector"], pod_labels(other)):
                yield f"Deployment {obj['metadata']['name']}: its selector also matches {other['metadata']['name']}"
    for name, service in named(objects, "Service").items():
        matched = [obj for obj in pods if obj["metadata"].get("namespace") == service["metadata"].get("namespace")
                   and selects({"matchLabels": service["spec"].get("selector", {})}, pod_labels(obj))]
        if not matched:
            yield f"Service {name}: its selector {service['spec'].get('selector')} matches no Deployment"
        for obj in matched:
            ports = container_ports(k8s.pod_spec(obj))
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if target not in ports and target not in ports.values():
                    yield f"Service {name}: targetPort {target} is not a port of {obj['metadata']['name']}"
    for name, pdb in named(objects, "PodDisruptionBudget").items():
        matched = [obj for obj in pods if selects(pdb["spec"]["selector"], pod_labels(obj))]
        if not matched:
            yield f"PodDisruptionBudget {name}: matches no pods"
        minimum = pdb["spec"].get("minAvailable")
        for obj in matched:
            replicas = _minimum_replicas(obj, objects)
            if isinstance(minimum, int) and minimum >= replicas:
                yield f"PodDisruptionBudget {name}: minAvailable {minimum} with {replicas} replicas blocks every drain"
    deployments = named(objects, "Deployment")
    for name, hpa in named(objects, "HorizontalPodAutoscaler").items():
        target = deployments.get(hpa["spec"]["scaleTargetRef"]["name"])
        if target is None:
            yield f"HorizontalPodAutoscaler {name}: scales a Deployment that does not exist"
            continue
        if any("cpu" not in c.get("resources", {}).get("requests", {}) for c in k8s.containers(target)):
            yield f"HorizontalPodAutoscaler {name}: CPU utilisation of containers without a CPU request"


def _minimum_replicas(obj: dict, objects: list[dict]) -> int:
    for hpa in named(objects, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == obj["metadata"]["name"]:
            return hpa["spec"].get("minReplicas", 1)
    return obj["spec"].get("replicas", 1) if obj["kind"] == "Deployment" else 1


def check_containers_are_well_formed(objects: list[dict]) -> Iterator[str]:
    known_secrets, maps = secrets(objects), config_maps(objects)
    for obj in workloads(objects):
        spec, where = k8s.pod_spec(obj), obj["metadata"]["name"]
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for volume in volumes.values():
            secret = volume.get("secret")
            if secret:
                keys = known_secrets.get(secret["secretName"])
                if keys is None:
                    yield f"{where}: volume {volume['name']} mounts Secret {secret['secretName']}, " \
                          "which nothing creates"
                else:
                    yield from (f"{where}: Secret {secret['secretName']} has no key {item['key']}"
                                for item in secret.get("items", []) if item["key"] not in keys)
        for container in k8s.containers(obj):
            here = f"{where}/{container['name']}"
            names = [variable["name"] for variable in container.get("env", [])]
            if len(names) != len(set(names)):
                yield f"{here}: an env variable twice"
            for variable in container.get("env", []):
                if ("value" in variable) == ("valueFrom" in variable):
                    yield f"{here}: {variable['name']} needs exactly one of value and valueFrom"
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in known_secrets.get(ref["name"], set()):
                    yield f"{here}: {variable['name']} reads {ref['name']}/{ref['key']}, which nothing creates"
            for source in container.get("envFrom", []):
                if source.get("configMapRef", {}).get("name") not in maps:
                    yield f"{here}: envFrom a ConfigMap that does not exist"
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    yield f"{here}: mounts volume {mount['name']}, which the pod does not declare"
            files = mounted_files(spec, container)
            for name, value in environment(container, objects).items():
                if name.endswith("_FILE") and name != "WORKER_READY_FILE" and value not in files:
                    yield f"{here}: {name}={value} is not a file any Secret volume puts there"
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                yield f"{here}: no writable /tmp (HOME, gunicorn's and Prometheus's files live there)"
            ports = [port["containerPort"] for port in container.get("ports", [])]
            if len(ports) != len(set(ports)):
                yield f"{here}: a port twice"
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(kind, {})
                port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
                declared = {p.get("name") for p in container.get("ports", [])} | set(ports)
                if port is not None and port not in declared:
                    yield f"{here}: {kind} on port {port}, which the container does not declare"


def check_probes(objects: list[dict]) -> Iterator[str]:
    for obj in workloads(objects):
        for container in obj["spec"]["template"]["spec"]["containers"]:
            here = f"{obj['metadata']['name']}/{container['name']}"
            if component(obj) == "web":
                for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    if container.get(kind, {}).get("httpGet", {}).get("path") != path:
                        yield f"{here}: {kind} is not GET {path}"
            elif component(obj) == "worker":
                ready = environment(container, objects).get("WORKER_READY_FILE")
                if not ready or container.get("readinessProbe", {}).get("exec", {}).get("command") \
                        != ["test", "-f", ready]:
                    yield f"{here}: readiness does not test for WORKER_READY_FILE"
                elif not any(ready.startswith(m["mountPath"].rstrip("/") + "/") for m in container["volumeMounts"]):
                    yield f"{here}: WORKER_READY_FILE {ready} is on the read-only root filesystem"


def check_pods_are_locked_down(objects: list[dict]) -> Iterator[str]:
    for obj in workloads(objects):
        spec, where = k8s.pod_spec(obj), obj["metadata"]["name"]
        pod = spec.get("securityContext", {})
        if (pod.get("runAsNonRoot"), pod.get("runAsUser"), pod.get("runAsGroup")) != (True, 10001, 10001):
            yield f"{where}: does not run as the image's non-root user 10001:10001"
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            yield f"{where}: no RuntimeDefault seccomp profile"
        if spec.get("automountServiceAccountToken") is not False:
            yield f"{where}: mounts a Kubernetes API token it never uses"
        if any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")):
            yield f"{where}: shares a host namespace"
        for container in k8s.containers(obj):
            here, context = f"{where}/{container['name']}", container.get("securityContext", {})
            if context.get("allowPrivilegeEscalation") is not False or context.get("privileged"):
                yield f"{here}: may escalate privileges"
            if context.get("readOnlyRootFilesystem") is not True:
                yield f"{here}: writable root filesystem"
            if context.get("capabilities", {}).get("drop") != ["ALL"] or context.get("capabilities", {}).get("add"):
                yield f"{here}: keeps Linux capabilities"
            resources = container.get("resources", {})
            for part, names in (("requests", ("cpu", "memory")), ("limits", ("cpu", "memory"))):
                missing = [n for n in names if n not in resources.get(part, {})]
                if missing:
                    yield f"{here}: no {part} for {', '.join(missing)}"


def check_prometheus_can_scrape(objects: list[dict]) -> Iterator[str]:
    for obj in workloads(objects):
        if component(obj) not in ("web", "worker"):
            continue
        where, annotations = obj["metadata"]["name"], obj["spec"]["template"]["metadata"].get("annotations", {})
        [container] = obj["spec"]["template"]["spec"]["containers"]
        ports = container_ports(obj["spec"]["template"]["spec"])
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/path") != "/metrics":
            yield f"{where}: no prometheus.io/scrape and path /metrics annotations"
        want = ports.get("http") if component(obj) == "web" else ports.get("metrics")
        if want is None or annotations.get("prometheus.io/port") != str(want):
            yield f"{where}: prometheus.io/port {annotations.get('prometheus.io/port')} is not its metrics port {want}"
        if component(obj) == "worker":
            env = environment(container, objects)
            if env.get("WORKER_METRICS_PORT") != str(want) or env.get("METRICS_BIND") != "0.0.0.0":
                yield f"{where}: the worker does not serve metrics on 0.0.0.0:{want} " \
                      "(WORKER_METRICS_PORT, METRICS_BIND)"


def _allowed(objects: list[dict], obj: dict, direction: str) -> tuple[bool, set[tuple[int | str, str]]]:
    """Whether any policy restricts the pod in that direction, and the (port, protocol)s they let through;
    ("*", protocol) for a rule open on every port."""
    labels, ports = pod_labels(obj), container_ports(k8s.pod_spec(obj))
    restricted, allowed = False, set()
    for policy in named(objects, "NetworkPolicy").values():
        if not selects(policy["spec"]["podSelector"], labels) or direction not in policy["spec"]["policyTypes"]:
            continue
        restricted = True
        for rule in policy["spec"].get(direction.lower(), []):
            for port in rule.get("ports") or [{"port": "*"}]:
                number = port.get("port", "*")
                if isinstance(number, str) and number != "*":
                    if direction == "Egress" or number not in ports:
                        continue  # a named port the pod does not have opens nothing on it
                    number = ports[number]
                allowed.add((number, port.get("protocol", "TCP")))
    return restricted, allowed


def _kafka_ports(objects: list[dict]) -> set[int]:
    servers = config_maps(objects).get("rewards-config", {}).get("KAFKA_BOOTSTRAP_SERVERS", "")
    return {int(server.rsplit(":", 1)[1]) for server in servers.split(",") if ":" in server}


def check_network_policies(objects: list[dict]) -> Iterator[str]:
    needed = {(53, "UDP"), (5432, "TCP")} | {(port, "TCP") for port in _kafka_ports(objects)}
    for obj in workloads(objects):
        if pod_labels(obj).get(PART_OF) != APP:
            continue
        where, ports = obj["metadata"]["name"], container_ports(k8s.pod_spec(obj))
        restricted, ingress = _allowed(objects, obj, "Ingress")
        expected = {"web": {(ports.get("http"), "TCP")}, "worker": {(ports.get("metrics"), "TCP")}}.get(
            component(obj), set())
        if not restricted:
            yield f"{where}: no NetworkPolicy restricts what reaches it"
        elif ingress != expected:
            yield f"{where}: reachable on {sorted(ingress, key=str)}, expected {sorted(expected, key=str)}"
        restricted, egress = _allowed(objects, obj, "Egress")
        if not restricted:
            yield f"{where}: no NetworkPolicy restricts where it connects"
        elif any(port == "*" for port, _ in egress):
            yield f"{where}: may connect anywhere on any port"
        elif needed - egress:
            yield f"{where}: cannot reach {sorted(needed - egress)} (DNS, PostgreSQL, Kafka)"
    for name, policy in named(objects, "NetworkPolicy").items():
        if not any(selects(policy["spec"]["podSelector"], pod_labels(obj)) for obj in workloads(objects)):
            yield f"NetworkPolicy {name}: selects no pod of the deployment"
        for rule in policy["spec"].get("ingress", []):
            if not rule.get("from"):
                yield f"NetworkPolicy {name}: an ingress rule open to every source"


def check_the_migration_job(objects: list[dict]) -> Iterator[str]:
    jobs = [obj for obj in objects if obj["kind"] == "Job"]
    if len(jobs) != 1:
        yield f"{len(jobs)} Jobs, expected the one migration Job"
        return
    spec = k8s.pod_spec(jobs[0])
    migrated = {c["command"][3]: repository(c["image"]).rsplit("/", 1)[-1] for c in spec.get("initContainers", [])
                if c.get("command", [])[:3] == ["rewards", "db", "migrate"] and len(c["command"]) == 4}
    for name in SERVICES:
        if migrated.get(name) != name:
            yield f"the migration Job does not migrate {name} from {name}'s image"
    if [c.get("command") for c in spec["containers"]] != [["rewards", "topics", "create"]]:
        yield "the migration Job's last step is not `rewards topics create`"


def check_kafka_clients_are_configured(objects: list[dict]) -> Iterator[str]:
    """Every Kafka client's settings are ones `rewards_shared.kafka` accepts, with each file it names mounted."""
    for obj in workloads(objects):
        spec = k8s.pod_spec(obj)
        for container in k8s.containers(obj):
            if not is_kafka_client(container):
                continue
            here, env = f"{obj['metadata']['name']}/{container['name']}", environment(container, objects)
            files = mounted_files(spec, container)
            paths = {name: value for name, value in env.items()
                     if name in ("KAFKA_SASL_PASSWORD_FILE", "KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE",
                                 "KAFKA_SSL_KEYFILE")}
            for name, value in paths.items():
                if value not in files:
                    yield f"{here}: {name}={value} is not a file any Secret volume puts there"
            try:
                kafka.security_settings({**env, **{name: __file__ for name in paths}})
            except kafka.KafkaSecurityError as error:
                yield f"{here}: {error}"


# Strimzi


def strimzi(objects: list[dict]) -> bool:
    return any(obj["apiVersion"].startswith("kafka.strimzi.io/") for obj in objects)


def expected_topics() -> dict[str, tuple[int, dict]]:
    topics = {spec.name: (spec.partitions, dict(spec.config)) for spec in TOPICS}
    for name in SERVICES:
        topics.update({dead_letter_topic(topic, name): (1, {}) for topic in consumed(name)})
    return topics


def expected_acls(user: str) -> set[tuple[str, str, str]]:
    if user == "rewards-admin":
        acls = {("topic", spec.name, op) for spec in TOPICS for op in ("Describe", "Create", "Write")}
        return acls | {("topic", dead_letter_topic(topic, name), op) for name in SERVICES
                       for topic in consumed(name) for op in ("Describe", "Create", "Read")}
    name = user.removeprefix("rewards-")
    service = SERVICES[name]
    acls = {("group", name, "Read")}
    acls |= {("topic", topic, op) for topic in consumed(name) for op in ("Read", "Describe")}
    acls |= {("topic", topic, op) for topic in service.produces for op in ("Write", "Describe")}
    return acls | {("topic", dead_letter_topic(topic, name), op) for topic in consumed(name)
                   for op in ("Write", "Describe", "Create")}


def check_the_kafka_cluster(objects: list[dict]) -> Iterator[str]:
    if not strimzi(objects):
        return
    clusters = named(objects, "Kafka")
    if len(clusters) != 1:
        yield f"{len(clusters)} Kafka clusters, expected one"
        return
    [(name, cluster)] = clusters.items()
    annotations = cluster["metadata"].get("annotations", {})
    if annotations.get("strimzi.io/kraft") != "enabled" or annotations.get("strimzi.io/node-pools") != "enabled":
        yield f"Kafka {name}: not annotated for KRaft and node pools"
    spec = cluster["spec"]["kafka"]
    if "zookeeper" in cluster["spec"]:
        yield f"Kafka {name}: has ZooKeeper"
    for listener in spec["listeners"]:
        if not listener.get("tls") or listener.get("authentication", {}).get("type") != "scram-sha-512":
            yield f"Kafka {name}: listener {listener['name']} is not TLS with SCRAM-SHA-512"
    if spec.get("authorization", {}).get("type") != "simple":
        yield f"Kafka {name}: no ACL authorization, so KafkaUser ACLs would not apply"
    if spec.get("config", {}).get("auto.create.topics.enable") is not False:
        yield f"Kafka {name}: creates topics implicitly, with the broker's default partitions"
    pools = [pool for pool in named(objects, "KafkaNodePool").values()
             if pool["metadata"].get("labels", {}).get("strimzi.io/cluster") == name]
    roles = {role: sum(p["spec"]["replicas"] for p in pools if role in p["spec"]["roles"])
             for role in ("controller", "broker")}
    if roles["controller"] % 2 == 0:
        yield f"Kafka {name}: {roles['controller']} controllers; a KRaft quorum needs an odd number"
    insync = spec.get("config", {}).get("min.insync.replicas", 1)
    for topic, obj in named(objects, "KafkaTopic").items():
        replicas = obj["spec"].get("replicas", 1)
        if not insync < replicas <= roles["broker"]:
            yield f"KafkaTopic {topic}: {replicas} replicas on {roles['broker']} brokers with min.insync {insync}"
    listener_ports = {l["port"] for l in spec["listeners"]}  # noqa: E741
    env = config_maps(objects).get("rewards-config", {})
    for server in env.get("KAFKA_BOOTSTRAP_SERVERS", "").split(","):
        host, _, port = server.rpartition(":")
        if not host.startswith(f"{name}-kafka-bootstrap") or int(port) not in listener_ports:
            yield f"KAFKA_BOOTSTRAP_SERVERS {server} is not the bootstrap Service of Kafka {name}"
    if (env.get("KAFKA_SECURITY_PROTOCOL"), env.get("KAFKA_SASL_MECHANISM")) != ("SASL_SSL", "SCRAM-SHA-512"):
        yield "rewards-config does not make clients use SASL_SSL with SCRAM-SHA-512"
    for obj in objects:
        if obj["apiVersion"].startswith("kafka.strimzi.io/"):
            labels = obj["metadata"].get("labels", {})
            if obj["kind"] != "Kafka" and labels.get("strimzi.io/cluster") != name:
                yield f"{obj['kind']} {obj['metadata']['name']}: not labelled strimzi.io/cluster={name}"
            if PART_OF in labels:
                yield f"{obj['kind']} {obj['metadata']['name']}: Strimzi copies its {PART_OF} label to its pods, " \
                      "which the rewards NetworkPolicies would then select"


def check_the_kafka_topics(objects: list[dict]) -> Iterator[str]:
    if not strimzi(objects):
        return
    found = {obj["spec"].get("topicName", name): obj for name, obj in named(objects, "KafkaTopic").items()}
    expected = expected_topics()
    for topic in sorted(set(expected) - set(found)):
        yield f"no KafkaTopic {topic}"
    for topic in sorted(set(found) - set(expected)):
        yield f"KafkaTopic {topic}: no service uses it"
    for topic in sorted(set(found) & set(expected)):
        partitions, config = expected[topic]
        spec = found[topic]["spec"]
        if spec.get("partitions") != partitions:
            yield f"KafkaTopic {topic}: {spec.get('partitions')} partitions, the code expects {partitions}"
        for key, value in config.items():
            if str(spec.get("config", {}).get(key)) != value:
                yield f"KafkaTopic {topic}: {key} is not {value}"


def check_the_kafka_users(objects: list[dict]) -> Iterator[str]:
    if not strimzi(objects):
        return
    users = named(objects, "KafkaUser")
    topics = {obj["spec"].get("topicName", name) for name, obj in named(objects, "KafkaTopic").items()}
    expected = {f"rewards-{name}" for name in SERVICES} | {"rewards-admin"}
    for user in sorted(expected - set(users)):
        yield f"no KafkaUser {user}"
    for name, user in users.items():
        if user["spec"].get("authentication", {}).get("type") != "scram-sha-512":
            yield f"KafkaUser {name}: does not sign in with SCRAM-SHA-512"
        acls = set()
        for acl in user["spec"].get("authorization", {}).get("acls", []):
            resource = acl["resource"]
            if acl.get("type", "allow") != "allow" or resource.get("patternType", "literal") != "literal" \
                    or resource.get("name", "*") == "*":
                yield f"KafkaUser {name}: an ACL that is not one literal allow: {acl}"
            if resource["type"] == "topic" and resource.get("name") not in topics:
                yield f"KafkaUser {name}: an ACL on topic {resource.get('name')}, which no KafkaTopic creates"
            for operation in acl.get("operations", [acl.get("operation")]):
                acls.add((resource["type"], resource.get("name"), operation))
        if name in expected and acls != expected_acls(name):
            wrong = sorted(acls - expected_acls(name))
            missing = sorted(expected_acls(name) - acls)
            yield f"KafkaUser {name}: ACLs beyond its own topics and group {wrong}, lacking {missing}"


def check_each_client_signs_in_as_itself(objects: list[dict]) -> Iterator[str]:
    if not strimzi(objects):
        return
    [cluster] = named(objects, "Kafka")
    for obj in workloads(objects):
        for container in k8s.containers(obj):
            if not is_kafka_client(container):
                continue
            here, env = f"{obj['metadata']['name']}/{container['name']}", environment(container, objects)
            user = "rewards-admin" if container["name"] != "worker" else f"rewards-{service_of(obj)}"
            files = mounted_files(k8s.pod_spec(obj), container)
            if env.get("KAFKA_SASL_USERNAME") != user:
                yield f"{here}: signs in as {env.get('KAFKA_SASL_USERNAME')}, not as KafkaUser {user}"
            if files.get(env.get("KAFKA_SASL_PASSWORD_FILE", "")) != (user, "password"):
                yield f"{here}: the password is not {user}'s, from the Secret Strimzi writes for it"
            if files.get(env.get("KAFKA_SSL_CAFILE", "")) != (f"{cluster}-cluster-ca-cert", "ca.crt"):
                yield f"{here}: does not trust the CA of Kafka {cluster}"


CHECKS: list[Callable[[list[dict]], Iterator[str]]] = [
    check_every_service_runs_web_and_worker, check_selectors_match, check_containers_are_well_formed,
    check_probes, check_pods_are_locked_down, check_prometheus_can_scrape, check_network_policies,
    check_the_migration_job, check_kafka_clients_are_configured, check_the_kafka_cluster, check_the_kafka_topics,
    check_the_kafka_users, check_each_client_signs_in_as_itself,
]


def problems(objects: list[dict]) -> list[str]:
    """Every schema and consistency problem of one rendering."""
    found = [f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {error}"
             for version in k8s.KUBERNETES_VERSIONS for obj in objects
             for error in k8s.schema_errors(obj, version)]
    for check in CHECKS:
        try:
            found.extend(check(objects))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if not found:
                raise  # valid objects the check cannot read: the check is wrong
            found.append(f"{check.__name__} could not run on objects that do not parse ({error!r})")
    return list(dict.fromkeys(found))


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths or [str(p) for p in k8s.OVERLAYS]:
        directory = Path(path)
        objects = k8s.render(directory) if directory.is_dir() else k8s.load(directory)
        found = problems(objects)
        print(f"{path}: {len(objects)} objects, " + (f"{len(found)} problems" if found else "valid"))
        for problem in found:
            print(f"  {problem}")
        failed |= bool(found)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

