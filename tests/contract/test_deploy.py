"""deploy/Dockerfile and the compose file agree with the services that exist, without a Docker engine.

Every service `rewards_shared.service.discover()` finds is built by compose from the one Dockerfile
with its SERVICE and PORT, runs its web and worker processes, and everything the Dockerfile copies
or names exists and reaches the build context. A new service fails here until compose lists it.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from rewards_shared.service import ServiceInfo, discover

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
SERVICES = discover()
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(:?[-+][^}]*)?\}?")


@dataclass
class Stage:
    name: str
    parent: Stage | None
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def environment(self) -> set[str]:
        """ENV carries over into the stages built FROM this one; ARG does not."""
        return set(self.env) | (self.parent.environment() if self.parent else set())

    def declared(self) -> set[str]:
        return set(self.args) | self.environment()


def stages() -> dict[str, Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: dict[str, Stage] = {}
    stage = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            stage = Stage(name.strip() or image, found.get(image.strip()))
            found[stage.name] = stage
            continue
        assert stage is not None, f"{keyword} before FROM"
        stage.instructions.append((keyword, rest))
        if keyword == "ARG":
            stage.args.append(rest.split("=")[0].strip())
        elif keyword == "ENV":
            stage.env.extend(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest))
    return found


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def substitute(text: str, values: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "!"))]
    parts = Path(path).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, pattern.rstrip("/")) for prefix in prefixes for pattern in patterns)


def test_the_compose_file_parses_and_every_build_uses_the_one_dockerfile():
    services = compose()["services"]
    builds = {name: spec["build"] for name, spec in services.items() if "build" in spec}
    assert builds, "compose builds no image"
    for name, build in builds.items():
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT, name
        assert build.get("dockerfile") == "deploy/Dockerfile", name
        assert "dockerfile_inline" not in build, name
        target = build.get("target", "service")
        assert target in stages(), f"{name}: no stage {target} in deploy/Dockerfile"
        assert set(build.get("args", {})) <= set(stages()[target].args), f"{name}: an arg the stage ignores"


def test_there_is_one_dockerfile():
    assert DOCKERFILE.is_file()
    assert sorted(ROOT.glob("services/*/Dockerfile")) == []


@pytest.mark.parametrize("info", SERVICES.values(), ids=list(SERVICES))
def test_compose_builds_and_runs_each_service_from_the_dockerfile(info: ServiceInfo):
    services = compose()["services"]
    web, worker = services.get(f"{info.name}-web"), services.get(f"{info.name}-worker")
    assert web and worker, f"compose has no {info.name}-web and {info.name}-worker"
    for container in (web, worker):
        assert container["build"]["dockerfile"] == "deploy/Dockerfile"
        assert container["build"]["args"] == {"SERVICE": info.name, "PORT": str(info.default_port)}
        assert container["image"] == f"smart-leeds-rewards/{info.name}:${{TAG:-latest}}"
        assert "target" not in container["build"] or container["build"]["target"] == "service"
    assert web["ports"] == [f"127.0.0.1:{info.default_port}:{info.default_port}"]
    assert worker["command"] == ["python", "-m", info.worker_module]
    assert (ROOT / "services" / info.name / "pyproject.toml").is_file()


@pytest.mark.parametrize("info", SERVICES.values(), ids=list(SERVICES))
def test_what_the_dockerfile_copies_and_runs_exists_for_each_service(info: ServiceInfo):
    values = {"SERVICE": info.name, "PORT": str(info.default_port)}
    service = stages()["service"]
    copied = []
    for keyword, rest in service.instructions + service.parent.instructions:
        if keyword == "COPY":
            *sources, _ = substitute(rest, values).split()
            copied.extend(source for source in sources if not source.startswith("--"))
    assert f"services/{info.name}/" in copied
    for source in copied:
        assert list(ROOT.glob(source.rstrip("/"))), f"COPY {source}: no such path"
        assert not ignored(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"
    [command] = [json.loads(rest) for keyword, rest in service.instructions if keyword == "CMD"]
    config = re.search(r'gunicorn -c "?([^" ]+)', substitute(command[-1], values)).group(1)
    assert (ROOT / config).is_file(), f"the web command runs gunicorn with {config}, which does not exist"


def test_the_setup_image_installs_every_service():
    setup = stages()["setup"]
    copied = [rest.split()[0] for keyword, rest in setup.instructions if keyword == "COPY"]
    assert "services/" in copied
    installed = {path.parent.name for path in ROOT.glob("services/*/pyproject.toml")}
    assert set(SERVICES) <= installed


def test_every_variable_the_dockerfile_uses_is_declared_in_its_stage():
    for stage in stages().values():
        for keyword, rest in stage.instructions:
            for name, default in VARIABLE.findall(rest):
                if keyword == "CMD" and default:
                    continue  # read when the container starts, with a default
                if name not in stage.declared():
                    pytest.fail(f"stage {stage.name}: {keyword} uses ${name}, which no ARG or ENV there declares")


def test_a_service_image_says_which_service_and_port_it_serves():
    service = stages()["service"]
    assert {"SERVICE", "PORT"} <= set(service.args)
    assert {"SERVICE", "PORT"} <= set(service.env), "the web command and the healthcheck read them at run time"
