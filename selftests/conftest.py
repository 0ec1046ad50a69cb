"""Fixtures for the project's own tests: real containers and real suite runs."""

import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from isoverify.targets import LABEL

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data")
IMAGE = "busybox:latest"


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}): run `sudo ci/setup.sh` first", pytrace=False)
    return client


@pytest.fixture
def canary(docker_client):
    """Start real containers labelled as the suite's; all removed after the test."""
    started = []

    def start(**options):
        options.setdefault("image", IMAGE)
        options.setdefault("tty", True)
        options.setdefault("stdin_open", True)
        container = docker_client.containers.run(
            name=f"isoverify-selftest-{secrets.token_hex(4)}", detach=True,
            labels={LABEL: "selftest"}, **options,
        )
        started.append(container)
        return container

    yield start
    for container in started:
        container.remove(force=True)


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    results: list[dict]
    reports: Path

    def verdicts(self) -> dict[str, str]:
        return {r["property"]: r["verdict"] for r in self.results}

    def failed(self) -> set[str]:
        return {p for p, v in self.verdicts().items() if v == "fail"}


@pytest.fixture
def suite(tmp_path):
    """Run the isolation suite the way users do — `pytest` in the repo root — in a subprocess."""

    def run(*args, env=None, timeout=180) -> SuiteRun:
        json_path = tmp_path / "isolation.json"
        json_path.unlink(missing_ok=True)
        command = [sys.executable, "-m", "pytest", f"--iso-json={json_path}",
                   f"--html={tmp_path / 'isolation.html'}", f"--junitxml={tmp_path / 'isolation.xml'}",
                   *args]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        results = json.loads(json_path.read_text())["results"] if json_path.exists() else []
        return SuiteRun(done.returncode, done.stdout + done.stderr, results, tmp_path)

    return run


def pytest_sessionfinish(session):
    """Nothing the suite or its selftests start may outlive them."""
    try:
        left = docker.from_env().containers.list(all=True, filters={"label": LABEL})
    except docker.errors.DockerException:
        return
    if left:
        names = ", ".join(c.name for c in left)
        sys.stderr.write(f"\nselftests: containers of the suite left behind: {names}\n")
        for container in left:
            container.remove(force=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def busybox_binary_layer(docker_client) -> bytes:
    """A filesystem layer holding one static binary, /bin/busybox, and no shell."""
    helper = docker_client.containers.create(IMAGE, labels={LABEL: "selftest"})
    try:
        stream, _ = helper.get_archive("/bin/busybox")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            binary = archive.extractfile("busybox").read()
    finally:
        helper.remove(force=True)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        entry = tarfile.TarInfo("bin/busybox")
        entry.size, entry.mode = len(binary), 0o755
        archive.addfile(entry, io.BytesIO(binary))
    return layer.getvalue()


def _import(client, layer: bytes, name: str, changes: list[str]) -> str:
    client.api.import_image_from_data(layer, repository=name, tag="latest", changes=changes)
    return f"{name}:latest"


@pytest.fixture(scope="session")
def shell_less_image(docker_client, busybox_binary_layer):
    """No shell, but a command that keeps it running: like a `FROM scratch` service."""
    return _import(docker_client, busybox_binary_layer, "isoverify-selftest-noshell",
                   ['CMD ["/bin/busybox", "sleep", "infinity"]'])


@pytest.fixture(scope="session")
def commandless_image(docker_client, busybox_binary_layer):
    """No shell and no command: nothing `docker run -it IMAGE` could start."""
    return _import(docker_client, busybox_binary_layer, "isoverify-selftest-nocmd", [])
