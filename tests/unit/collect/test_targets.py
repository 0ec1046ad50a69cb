"""Every field of every URL, and every option value that may reach a shell, is allow-listed:
shell metacharacters are a usage error before anything runs (unit half: the parsers)."""

import pytest

from isoverify.collect.targets import HostTarget, check_host_url, parse_container_url
from isoverify.errors import UsageError
from isoverify.run import Run

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
    ("--iso-container", "cri://*?socket={}", "/run/containerd/containerd.sock"),
    ("--iso-container", "cri://*?namespace={}", "kube-system"),
    ("--iso-container", "cri://*?pod={}", "coredns-5d78c9869d-x7k2p"),
    ("--iso-container", "cri://*?container={}", "coredns"),
    ("--iso-container", "cri://*?label={}", "app.kubernetes.io/name=web"),
]


HOSTILE = ["$(touch /tmp/x)", "`touch /tmp/x`", "a;b", "a|b", "a&b", "a\nb", "a b", "-oProxyCommand=x",
           "a'b", 'a"b', "%24(touch%20/tmp/x)"]


def check(option: str, url: str) -> None:
    if option == "--iso-host":
        check_host_url(url)
    else:
        parse_container_url(url)


@pytest.mark.parametrize("option, url, valid", FIELDS)
def test_each_field_accepts_its_kind_of_value(option, url, valid):
    check(option, url.format(valid))


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("option, url, valid", FIELDS)
def test_each_field_refuses_shell_metacharacters(option, url, valid, value):
    with pytest.raises(UsageError) as refused:
        check(option, url.format(value))
    message = str(refused.value)
    assert message.startswith(f"{option} ") and "\n" not in message, message


@pytest.mark.parametrize("url, words", [
    ("ssh://web1?ssh_extra_args=-oProxyCommand=x", "takes only sudo, sudo_user, ssh_config, ssh_identity_file"),
    ("ssh://web1?controlpersist=0", "not 'controlpersist'"),
    ("local://?kubeconfig=/k", "not 'kubeconfig'"),
    ("ssh://web1?sudo=true&sudo=false", "give each option once"),
    ("ssh://web1?sudo", "?KEY=VALUE"),
    ("ssh://root:secret@web1", "no password: use a key"),
    ("ssh://web1:65536", "PORT '65536' is not a port: use a number from 1 to 65535"),
    ("local://web1", "write local://"),
    ("node://web1", "write node://"),
    ("node://?sudo=true", "takes no options"),
    ("ansible://?ansible_inventory=hosts.ini", "GROUP '' is not an Ansible group"),
])
def test_unknown_or_malformed_host_options(url, words):
    with pytest.raises(UsageError) as refused:
        check_host_url(url)
    assert words in str(refused.value)


@pytest.mark.parametrize("url", [
    "local://", "node://", "ssh://[fe80::1]:2222", "ssh://default?ssh_config=.vagrant/ssh-config&sudo=true",
    "vagrant://", "ansible://fleet?ansible_inventory=hosts.ini&sudo=true",
])
def test_valid_host_forms(url):
    check_host_url(url)


@pytest.mark.parametrize("url", [
    "docker://*", "docker://3f2a9c81d0e4", "kubectl://api-0?namespace=prod&container=app&context=kind-kind",
])
def test_valid_container_forms(url):
    parse_container_url(url)


@pytest.mark.parametrize("url", ["kubectl://api-0?kubeconfig=~/.kube/config", "docker://web?label=tier"])
def test_options_a_container_cannot_use(url):
    with pytest.raises(UsageError):
        parse_container_url(url)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("option, keyword", [("--iso-image", "image"), ("--ssh-config", "ssh_config"),
                                             ("--ssh-identity-file", "ssh_identity_file")])
def test_option_values_refuse_shell_metacharacters(option, keyword, value):
    with pytest.raises(UsageError) as refused:
        Run(**{keyword: value})
    assert str(refused.value).startswith(f"{option} ")


def test_a_pod_reached_through_testinfra_is_checked_too():
    with pytest.raises(UsageError):
        HostTarget("kubectl://api-0?kubeconfig=$(touch${IFS}/tmp/x)")


@pytest.mark.parametrize("url, fine", [
    ("kubectl://web?namespace=prod&container=app", True),
    ("kubectl://web", True),
    ("kubectl://web?namespace=prod&node=x", False),
    ("kubectl://web;rm?namespace=prod", False),
    ("kubectl://web?namespace=a;b", False),
])
def test_pod_urls(url, fine):
    if fine:
        assert parse_container_url(url).ref == "web"
    else:
        with pytest.raises(UsageError):
            parse_container_url(url)
