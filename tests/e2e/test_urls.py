"""A hostile URL value reaches no shell, and a pod, a container or a process is never a host
(the URL parsers themselves: tests/unit/collect/test_targets.py)."""

import pytest

USAGE_ERROR = 4  # pytest's own


def test_hostile_kubeconfig_runs_nothing(suite, tmp_path):
    # testinfra's kubectl backend puts kubeconfig in double quotes on a local shell's command line
    marker = tmp_path / "marker"
    run = suite(f"--iso-container=kubectl://api-0?kubeconfig=$(touch${{IFS}}{marker})")
    assert run.exit_code == USAGE_ERROR, run.output
    assert not marker.exists(), "the kubeconfig value reached a shell"
    assert "kubeconfig '$(touch${IFS}" in run.output and "Traceback" not in run.output


@pytest.mark.parametrize("url, thing", [("kubectl://x", "pod"), ("docker://web", "container"),
                                        ("pid://4242", "process")])
def test_a_container_is_never_a_host(suite, url, thing):
    run = suite(f"--iso-host={url}")
    assert run.exit_code == USAGE_ERROR, run.output
    lines = [line for line in run.output.splitlines() if "is not a host" in line]
    assert lines == [f"ERROR: --iso-host '{url}': a {thing} is not a host: the suite must read the host's kernel; "
                     f"name the {'node' if thing == 'pod' else 'machine'} with ssh:// or run the suite on it, "
                     f"and give the {thing} as --iso-container"], run.output
