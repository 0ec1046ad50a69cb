"""Remote hosts over a real ssh connection, with their containers checked through them."""

from conftest import ours


def test_containers_of_a_remote_host_through_ssh_only(remote_host, canary, suite, tmp_path):
    isolated, broken = canary(), canary(pid_mode="host")
    # No docker CLI nor engine socket for the machine running pytest: only ssh.
    local_bin = tmp_path / "bin"
    local_bin.mkdir()
    (local_bin / "ssh").symlink_to("/usr/bin/ssh")
    before = remote_host.connections()
    run = suite(f"--iso-host=ssh://{remote_host.alias}?ssh_config={remote_host.ssh_config}",
                f"--iso-container=docker://{isolated.name}", f"--iso-container=docker://{broken.name}",
                env={"PATH": str(local_bin), "DOCKER_HOST": "unix:///run/isoverify-selftest-nothing.sock"})
    assert run.exit_code == 1, run.output
    assert run.failed(f"docker://{isolated.name}") == set()
    assert run.failed(f"docker://{broken.name}") == {"pid"}
    # one kept-open connection for the whole run, not one per command
    assert remote_host.connections() - before == 1


def test_vagrant_shaped_ssh_config_through_testinfras_option(remote_host, canary, suite):
    container = canary()
    run = suite(f"--ssh-config={remote_host.ssh_config}", f"--iso-host=ssh://{remote_host.alias}",
                f"--iso-container=docker://{container.name}")
    assert run.exit_code == 0, run.output
    [host] = run.document()["hosts"]
    assert host["host"] == f"ssh://{remote_host.alias}" and host["engine"].startswith("docker ")


def test_paramiko_with_an_identity_file(remote_host, canary, suite):
    container = canary(pid_mode="host")
    run = suite(f"--iso-host=paramiko://root@{remote_host.address}?ssh_identity_file={remote_host.identity}",
                f"--iso-container=docker://{container.name}", "-k", "pid and not limit")
    assert run.exit_code == 1, run.output
    assert run.failed() == {"pid"}


def test_managed_container_on_a_remote_host_is_removed(remote_host, suite, docker_client):
    run = suite(f"--iso-host=ssh://{remote_host.alias}?ssh_config={remote_host.ssh_config}")
    assert run.exit_code == 0, run.output
    assert run.verdicts()["pid"] == "pass"
    assert not ours(docker_client)


def test_many_hosts_each_with_their_containers(remote_host, canary, suite):
    container = canary()
    remote = f"ssh://{remote_host.alias}?ssh_config={remote_host.ssh_config}"
    run = suite("--iso-host=local://", f"--iso-host={remote}", f"--iso-container=docker://{container.name}",
                "-k", "pid and not limit")
    assert run.exit_code == 0, run.output
    assert sorted(r["target"] for r in run.results) == sorted(
        [f"local:// docker://{container.name}", f"ssh://{remote_host.alias} docker://{container.name}"])
    assert [h["host"] for h in run.document()["hosts"]] == ["local://", f"ssh://{remote_host.alias}"]


def test_unreachable_ssh_host_is_one_clear_line(remote_host, suite, tmp_path):
    config = tmp_path / "ssh-config"  # the test host's address, on a port where nothing listens
    config.write_text(f"Host nowhere\n  HostName {remote_host.address}\n  Port 2\n  ConnectTimeout 5\n"
                      "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
    run = suite(f"--iso-host=ssh://nowhere?ssh_config={config}")
    assert run.exit_code == 6, run.output
    assert "cannot reach ssh://nowhere: ssh: connect to host" in run.output
    assert "Traceback" not in run.output


def test_ansible_inventory_names_the_hosts(remote_host, canary, suite, tmp_path):
    container = canary(pid_mode="host")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[fleet]\nhere ansible_connection=local\n"
        f"remote ansible_host={remote_host.address} ansible_user=root "
        f"ansible_ssh_private_key_file={remote_host.identity} "
        "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n")
    run = suite(f"--iso-host=ansible://fleet?ansible_inventory={inventory}",
                f"--iso-container=docker://{container.name}", "-k", "pid and not limit")
    assert run.exit_code == 1, run.output
    assert sorted((r["target"], r["verdict"]) for r in run.results) == [
        (f"ansible://here docker://{container.name}", "fail"),
        (f"ansible://remote docker://{container.name}", "fail")]


def test_vagrant_vm_that_is_not_up_is_one_clear_line(suite, tmp_path):
    (tmp_path / "Vagrantfile").write_text('Vagrant.configure("2") { |c| c.vm.box = "none" }\n')
    run = suite(f"--iso-host=vagrant://default?root={tmp_path}")
    assert run.exit_code == 6, run.output
    assert f"Vagrant VM 'default' in {tmp_path} is not running: `vagrant up default` there" in run.output
    assert "Traceback" not in run.output
