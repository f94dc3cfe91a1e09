"""Renders deploy/k8s the way `kubectl apply -k` would and checks each object against its schema, offline.

The renderer is the part of kustomize the manifests use — `resources` (files and directories),
`namespace`, `images` and `patches` given by path (strategic merge) — and refuses anything else, so a
kustomization that starts using more fails here instead of rendering differently from kustomize.
Where `kubectl` is installed, a test compares this rendering with kustomize's own.

Schemas: Kubernetes' own kinds against the strict JSON Schemas the kubernetes-validate package ships
for each Kubernetes release (no field the API does not define); Strimzi's kinds against the schemas
deploy/k8s/schemas/strimzi.py derives from Strimzi's published CRDs, equally strict.
"""
from __future__ import annotations

import copy
import importlib.resources
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.parent for path in (K8S / "overlays").glob("*/kustomization.yaml"))
# The oldest release the manifests promise to run on, and the newest the schema package knows.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}
# Strategic merge: lists under these fields merge item by item on the key; any other list is replaced.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name"}


class Unsupported(Exception):
    """The kustomization uses something this renderer does not implement."""


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def identity(obj: dict) -> tuple[str, str, str, str]:
    return (obj.get("apiVersion", ""), obj.get("kind", ""), obj.get("metadata", {}).get("namespace", ""),
            obj.get("metadata", {}).get("name", ""))


def render(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    extra = set(kustomization) - KUSTOMIZATION_FIELDS
    if extra:
        raise Unsupported(f"{directory}: {sorted(extra)}")
    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects.extend(render(path) if path.is_dir() else load(path))
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{directory}: a patch other than a strategic merge file: {patch}")
        for doc in load(directory / patch["path"]):
            target = _patch_target(objects, doc, directory / patch["path"])
            objects[objects.index(target)] = merge(target, doc, builtin="strimzi.io" not in doc["apiVersion"])
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in containers(obj):
                container["image"] = _retag(container["image"], image)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    seen: set = set()
    for obj in objects:
        if identity(obj) in seen:
            raise ValueError(f"{directory}: {identity(obj)} twice")
        seen.add(identity(obj))
    return objects


def _patch_target(objects: list[dict], patch: dict, source: Path) -> dict:
    group = patch["apiVersion"].rpartition("/")[0]
    matches = [obj for obj in objects if obj["kind"] == patch["kind"]
               and obj["apiVersion"].rpartition("/")[0] == group
               and obj["metadata"]["name"] == patch["metadata"]["name"]
               and patch["metadata"].get("namespace") in (None, obj["metadata"].get("namespace"))]
    if len(matches) != 1:
        raise ValueError(f"{source}: {patch['kind']} {patch['metadata']['name']} matches {len(matches)} objects")
    return matches[0]


def merge(original, patch, builtin: bool = True, field: str = ""):
    """Strategic merge for Kubernetes' own kinds, JSON merge (lists replaced) for custom resources."""
    if isinstance(patch, dict) and isinstance(original, dict):
        if any(key.startswith("$") for key in patch):
            raise Unsupported(f"patch directive in {field}: {[k for k in patch if k.startswith('$')]}")
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = merge(original.get(key), value, builtin, key)
        return merged
    key = MERGE_KEYS.get(field) if builtin else None
    if key and isinstance(patch, list) and isinstance(original, list):
        by_key = {item[key]: item for item in patch}
        kept = [merge(item, by_key[item[key]], builtin) if item[key] in by_key else copy.deepcopy(item)
                for item in original]
        added = [copy.deepcopy(item) for item in patch if item[key] not in {o[key] for o in original}]
        return added + kept  # kustomize puts the patch's new items first
    return copy.deepcopy(patch)


def image_name(reference: str) -> str:
    """registry:5000/smart-leeds-rewards/points:1.2 → registry:5000/smart-leeds-rewards/points"""
    return re.split(r"@|:(?=[^/]*$)", reference)[0]


def _retag(reference: str, image: dict) -> str:
    name = image_name(reference)
    if name != image["name"]:
        return reference
    new = image.get("newName", name)
    if "digest" in image:
        return f"{new}@{image['digest']}"
    tag = image.get("newTag") or (reference[len(name) + 1:] if len(reference) > len(name) else "")
    return f"{new}:{tag}" if tag else new


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return obj["spec"]["template"]["spec"]
    return None


def containers(obj: dict) -> Iterator[dict]:
    spec = pod_spec(obj)
    if spec:
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


# Schemas


@cache
def _kubernetes_schemas(version: str) -> Path:
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    return Path(str(folder))


@cache
def _registry(version: str) -> Registry:
    definitions = json.loads((_kubernetes_schemas(version) / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@cache
def _schema(path: Path) -> dict:
    return json.loads(path.read_text())


def strimzi_schema_dir() -> Path:
    [folder] = sorted((K8S / "schemas").glob("strimzi-*/"))
    return folder


def schema_path(api_version: str, kind: str, kubernetes: str) -> Path:
    group, _, version = api_version.rpartition("/")
    if group.endswith("strimzi.io"):
        return strimzi_schema_dir() / f"{kind.lower()}-{group.split('.')[0]}-{version}.json"
    prefix = f"{kind.lower()}-{group.split('.')[0]}-" if group else f"{kind.lower()}-"
    return _kubernetes_schemas(kubernetes) / f"{prefix}{version}.json"


def schema_errors(obj: dict, kubernetes: str = KUBERNETES_VERSIONS[0]) -> list[str]:
    """Every way the object fails its kind's schema, as 'path: message'; [] when it parses as what it claims."""
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        return ["apiVersion and kind are required"]
    path = schema_path(obj["apiVersion"], obj["kind"], kubernetes)
    if not path.is_file():
        return [f"no schema for {obj['apiVersion']} {obj['kind']} (Kubernetes {kubernetes})"]
    checks = [(obj, _schema(path), "")]
    if obj["apiVersion"].rpartition("/")[0].endswith("strimzi.io"):
        # a CRD leaves metadata open; it is still an ObjectMeta
        checks.append((obj.get("metadata"), _schema(_kubernetes_schemas(kubernetes) / "objectmeta-meta-v1.json"),
                       "metadata."))
    errors = []
    for instance, schema, prefix in checks:
        validator = jsonschema.Draft202012Validator(schema, registry=_registry(kubernetes))
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
            errors.append(f"{prefix}{'.'.join(map(str, error.path)) or '(top)'}: {error.message}")
    return errors


# kustomize itself, where it is installed


def kubectl_render(directory: Path) -> list[dict] | None:
    """kustomize's rendering through `kubectl kustomize`; None when no kubectl here renders even a trivial
    kustomization (none installed, or one that needs something this machine lacks)."""
    if not _kubectl_works():
        return None
    done = _kubectl_kustomize(directory)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def _kubectl_kustomize(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("kubectl") or "kubectl", "kustomize", str(directory)],
                          capture_output=True, text=True, timeout=60)


@cache
def _kubectl_works() -> bool:
    if not shutil.which("kubectl"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kustomization.yaml").write_text("resources: [config.yaml]\nnamespace: probe\n")
        (Path(tmp) / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\n")
        try:
            done = _kubectl_kustomize(Path(tmp))
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0 and "namespace: probe" in done.stdout
