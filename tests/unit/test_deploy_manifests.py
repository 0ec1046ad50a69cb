"""deploy/kubernetes: valid against the Kubernetes schemas, one pod for the Job and the
DaemonSet, each privilege it asks for said why, and the image the project builds."""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
KUBERNETES = "1.30.0"  # the oldest minor the manifests' fields (appArmorProfile) need


def pod_of(kind: str) -> dict:
    [document] = [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d["kind"] == kind]
    return document["spec"]["template"]["spec"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_each_manifest_is_valid_kubernetes(path):
    for document in yaml.safe_load_all(path.read_text()):
        for version in (KUBERNETES, kubernetes_validate.latest_version()):
            kubernetes_validate.validate(document, version, strict=True)


def test_the_job_and_the_daemonset_run_the_same_pod():
    job, daemon = pod_of("Job"), pod_of("DaemonSet")
    for field in ("hostPID", "volumes", "tolerations", "automountServiceAccountToken"):
        assert job.get(field) == daemon.get(field), field
    [job_container], [daemon_container] = job["containers"], daemon["containers"]
    for field in ("image", "args", "securityContext", "volumeMounts"):
        assert job_container[field] == daemon_container[field], field


def test_the_pod_asks_for_no_more_than_it_names():
    pod = pod_of("Job")
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["capabilities"]["drop"] == ["ALL"] and "privileged" not in security
    assert not pod.get("hostNetwork") and not pod.get("hostIPC")
    assert all(mount["readOnly"] for mount in container["volumeMounts"] if mount["name"] != "results")
    text = (DEPLOY / "job.yaml").read_text()
    for capability in security["capabilities"]["add"]:
        assert re.search(rf"- {capability} +# \w", text), f"{capability}: say why it is needed"


def test_the_manifests_name_the_image_the_project_builds():
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for kind in ("Job", "DaemonSet"):
        [container] = pod_of(kind)["containers"]
        assert container["image"] == f"isoverify:{version}"


def test_the_namespace_admits_the_pod_by_its_pod_security_level():
    [namespace] = yaml.safe_load_all((DEPLOY / "namespace.yaml").read_text())
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace["metadata"]["name"] == pod_of_namespace()


def pod_of_namespace() -> str:
    namespaces = {d["metadata"]["namespace"] for path in MANIFESTS for d in yaml.safe_load_all(path.read_text())
                  if d["kind"] != "Namespace"}
    [namespace] = namespaces
    return namespace
