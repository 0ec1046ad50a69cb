"""Every field of every URL, and every option value that may reach a shell, is allow-listed:
shell metacharacters are a usage error before anything runs, and a pod is never a host."""


import pytest

from isoverify.collect.targets import check_host_url, parse_container_url

USAGE_ERROR = 4  # pytest's own


# Each field of each scheme, as (option, URL with {} in that field, a value it accepts there).
FIELDS = [
    *[("--iso-host", url, valid) for scheme in ("ssh", "safe-ssh", "paramiko") for url, valid in [
        (f"{scheme}://{{}}@web1:22", "root"),
        (f"{scheme}://root@{{}}:22", "web1.example.com"),
        (f"{scheme}://root@web1:{{}}", "2222"),
        (f"{scheme}://web1?sudo={{}}", "true"),
        (f"{scheme}://web1?sudo=true&sudo_user={{}}", "alice"),
        (f"{scheme}://web1?ssh_config={{}}", "~/.ssh/config"),
        (f"{scheme}://web1?ssh_identity_file={{}}", "/keys/ci_ed25519"),
    ]],
    ("--iso-host", "local://?sudo={}", "false"),
    ("--iso-host", "local://?sudo=true&sudo_user={}", "alice"),
    ("--iso-host", "ansible://{}?ansible_inventory=hosts.ini", "web"),
    ("--iso-host", "ansible://web?ansible_inventory={}", "inventory/hosts.ini"),
    ("--iso-host", "ansible://web?ansible_inventory=hosts.ini&ssh_identity_file={}", "/keys/ci"),
    ("--iso-host", "vagrant://{}?root=/vms/lab", "default"),
    ("--iso-host", "vagrant://default?root={}", "/vms/lab"),
    ("--iso-host", "vagrant://default?sudo={}", "true"),
    *[("--iso-container", url, valid) for engine in ("docker", "podman") for url, valid in [
        (f"{engine}://{{}}", "web"),
        (f"{engine}://*?label={{}}", "tier"),
        (f"{engine}://*?label=tier={{}}", "frontend"),
    ]],
    ("--iso-container", "pid://{}", "4242"),
    ("--iso-container", "kubectl://{}?namespace=prod", "api-0"),
    ("--iso-container", "kubectl://api-0?namespace={}", "prod"),
    ("--iso-container", "kubectl://api-0?container={}", "app"),
    ("--iso-container", "kubectl://api-0?kubeconfig={}", "/etc/kube/config"),
    ("--iso-container", "kubectl://api-0?context={}", "kubernetes-admin@kubernetes"),
]


HOSTILE = ["$(touch /tmp/x)", "`touch /tmp/x`", "a;b", "a|b", "a&b", "a\nb", "a b", "-oProxyCommand=x",
           "a'b", 'a"b', "%24(touch%20/tmp/x)"]


def check(option: str, url: str) -> None:
    if option == "--iso-host":
        check_host_url(url)
    else:
        parse_container_url(url)


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
