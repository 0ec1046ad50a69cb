"""Waivers on real containers: what an image pin accepts, a label baked into an image, a huge label."""

import datetime
import json
import secrets
import subprocess

import pytest

from conftest import LABEL


def waiver_file(tmp_path, **selectors) -> str:
    fields = "".join(f"{name} = {json.dumps(value)}\n" for name, value in selectors.items())
    path = tmp_path / "waivers.toml"
    path.write_text(f'[[waiver]]\nproperty = "caps"\n{fields}reason = "the tunnel"\nowner = "net@example.com"\n'
                    f"expires = {datetime.date.today() + datetime.timedelta(days=365)}\n")
    return f"--iso-waivers={path}"


def test_an_image_pin_waives_only_what_it_accepts_of_each_container_of_the_image(canary, suite, tmp_path):
    tunnel, other = canary(cap_add=["NET_ADMIN"]), canary(cap_add=["NET_ADMIN", "SYS_ADMIN"])
    assert tunnel.attrs["Image"] == other.attrs["Image"]
    run = suite(f"--iso-container=docker://{tunnel.name}", f"--iso-container=docker://{other.name}",
                waiver_file(tmp_path, image=tunnel.attrs["Image"], accept=["NET_ADMIN"]), "-k", "caps")
    assert run.exit_code == 1, run.output
    assert run.verdicts(f"docker://{tunnel.name}") == {"caps": "waived"}
    [failed] = [r for r in run.results if r["target"] == f"docker://{other.name}"]
    assert failed["verdict"] == "fail" and "accepts NET_ADMIN only; not accepted: SYS_ADMIN" in failed["summary"]


def test_an_image_pin_without_accept_is_a_usage_error_of_one_line(canary, suite, tmp_path):
    tunnel = canary(cap_add=["NET_ADMIN"])
    run = suite(f"--iso-container=docker://{tunnel.name}", waiver_file(tmp_path, image=tunnel.attrs["Image"]),
                "-k", "caps")
    assert run.exit_code == 4 and "Traceback" not in run.output
    [said] = [line for line in run.output.splitlines() if "waivers.toml:" in line]
    assert f"waivers.toml:1: a waiver pinned to image {tunnel.attrs['Image']} covers every container" in said
    assert "add accept = [...]" in said and "pin it to the container's ID" in said


@pytest.fixture
def labelled_image(canary):
    """busybox with a label baked in by its author (`docker commit --change LABEL`): made offline."""
    name = f"isoverify-selftest-labelled:{secrets.token_hex(4)}"
    subprocess.run(["docker", "commit", "--change", "LABEL io.isoverify.selftest.team=net", canary().id, name],
                   check=True, capture_output=True)
    yield name
    subprocess.run(["docker", "rmi", "-f", name], check=False, capture_output=True)


def test_a_label_baked_into_the_image_does_not_satisfy_a_label_waiver(canary, labelled_image, suite, tmp_path):
    baked = canary(image=labelled_image, cap_add=["NET_ADMIN"])
    given = canary(cap_add=["NET_ADMIN"], labels={"io.isoverify.selftest.team": "net"})
    assert baked.labels["io.isoverify.selftest.team"] == "net"  # the engine shows it on the container alike
    run = suite(f"--iso-container=docker://{baked.name}", f"--iso-container=docker://{given.name}",
                waiver_file(tmp_path, label="io.isoverify.selftest.team=net", accept=["NET_ADMIN"]), "-k", "caps")
    assert run.exit_code == 1, run.output
    assert run.verdicts(f"docker://{baked.name}") == {"caps": "fail"}
    assert run.verdicts(f"docker://{given.name}") == {"caps": "waived"}


def test_a_huge_label_leaves_the_container_judged_and_is_shown_cut(canary, suite, tmp_path):
    plain, huge = canary(), canary(labels={"io.isoverify.selftest.huge": "x" * 70 * 1024})
    run = suite(f"--iso-container=docker://{plain.name}", f"--iso-container=docker://{huge.name}",
                waiver_file(tmp_path, label=f"io.isoverify.selftest.huge={'x' * 70 * 1024}", accept=["NET_ADMIN"]))
    judged = run.verdicts(f"docker://{huge.name}")
    assert "error" not in judged.values() and judged == run.verdicts(f"docker://{plain.name}"), run.output
    for record in (r for r in run.results if r["target"] == f"docker://{huge.name}"):
        declared = next(e["text"] for e in record["evidence"]["container"] if e["label"] == "declared (docker inspect)")
        assert f"…[cut: {70 * 1024} bytes]" in declared and f"'{LABEL}': 'selftest'" in declared
        assert record["matching_waivers"] == []  # a cut label satisfies no waiver
