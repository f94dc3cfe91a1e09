"""Writes the JSON Schemas the manifest tests check Strimzi resources against, from Strimzi's own CRDs.

Strimzi publishes its generated CustomResourceDefinitions inside `io.strimzi:api:<version>:jar:tests`
on Maven Central (crds/v1beta2/*.yaml). This takes the openAPIV3Schema of the kinds the strimzi overlay
uses, at the API version it uses, and makes it a strict JSON Schema, as kubeconform does for CRDs:
an object that lists its properties admits no others (the API server would silently drop them, and a
misspelt field is the mistake worth catching). Run it when the overlay moves to another Strimzi release:

    .venv/bin/python deploy/k8s/schemas/strimzi.py 0.49.1

It needs Maven (the repository already uses it for the local Kafka broker); the tests do not.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
API_VERSION = "v1beta2"
CRDS = {  # the file in the jar → the kinds the overlay uses
    "040-Crd-kafka.yaml": "Kafka",
    "045-Crd-kafkanodepool.yaml": "KafkaNodePool",
    "043-Crd-kafkatopic.yaml": "KafkaTopic",
    "044-Crd-kafkauser.yaml": "KafkaUser",
}


def strict(schema: dict) -> dict:
    """OpenAPI v3 (a structural CRD schema) → JSON Schema, closed wherever the CRD lists properties."""
    out: dict = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = strict(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [strict(sub) for sub in value]
        elif not key.startswith("x-kubernetes-") and key != "nullable":
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def schema_for(crd: dict, version: str, source: str) -> dict:
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = strict(served["schema"]["openAPIV3Schema"])
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"{crd['metadata']['name']} {version}, from {source}; made strict by strimzi.py. "
                        "Strimzi is Apache License 2.0.",
            **schema}


def fetch(version: str, into: Path) -> Path:
    artifact = f"io.strimzi:api:{version}:jar:tests"
    subprocess.run(["mvn", "-q", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={into}",
                    "-Dmdep.stripVersion=false"], check=True, cwd=into)
    [jar] = into.glob("api-*-tests.jar")
    return jar


def main(version: str) -> None:
    target = HERE / f"strimzi-{version}"
    with tempfile.TemporaryDirectory() as tmp:
        jar = fetch(version, Path(tmp))
        with zipfile.ZipFile(jar) as archive:
            crds = {name: yaml.safe_load(archive.read(f"crds/{API_VERSION}/{name}")) for name in CRDS}
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for name, crd in crds.items():
        assert crd["spec"]["names"]["kind"] == CRDS[name], name
        schema = schema_for(crd, API_VERSION, f"io.strimzi:api:{version}:jar:tests crds/{API_VERSION}/{name}")
        group = crd["spec"]["group"].split(".")[0]
        path = target / f"{CRDS[name].lower()}-{group}-{API_VERSION}.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(HERE.parents[2])}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "0.49.1")
