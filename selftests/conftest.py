"""Fixtures for the project's own tests: real containers and real suite runs."""

import json
import os
import secrets
import subprocess
import sys
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
