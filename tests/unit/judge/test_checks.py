"""Kernel data decoded on recorded files: capabilities, cgroup v1 and v2 limits, mounts."""

import os
from pathlib import Path

import pytest

from isoverify.collect import facts
from isoverify.collect.targets import ContainerTarget, HostTarget
from isoverify.judge.checks import drift, filesystem, resources
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts, Mount, Reading

DATA = Path(__file__).resolve().parents[2] / "data"  # outputs recorded on real hosts


def test_docker_default_capability_mask_decodes_to_its_fourteen():
    assert linux.decode_capabilities("00000000a80425fb") == linux.DEFAULT_CAPABILITIES["docker"]


def test_all_capabilities_come_from_cap_last_cap():
    assert len(linux.all_capabilities(40)) == 41
    assert "CAP_41" in linux.all_capabilities(41)  # a kernel newer than the name table


@pytest.mark.parametrize("host_config, expected", [
    ({}, linux.DEFAULT_CAPABILITIES["docker"]),
    ({"CapAdd": ["CAP_SYS_ADMIN"], "CapDrop": ["CAP_MKNOD"]},
     linux.DEFAULT_CAPABILITIES["docker"] - {"MKNOD"} | {"SYS_ADMIN"}),
    ({"CapDrop": ["ALL"], "CapAdd": ["NET_BIND_SERVICE"]}, {"NET_BIND_SERVICE"}),
    ({"CapAdd": ["ALL"], "CapDrop": ["SYS_RESOURCE"]}, linux.all_capabilities(40) - {"SYS_RESOURCE"}),
    ({"Privileged": True}, linux.all_capabilities(40)),
])
def test_declared_capabilities(host_config, expected):
    assert drift.declared_capabilities({"HostConfig": host_config}, "docker", 40) == expected


def cgroup_facts(recording: str, text: str | None = None) -> ContainerFacts:
    fact = facts.Cgroups()
    reading = fact.read(text if text is not None else (DATA / recording).read_text(), 0)
    target = ContainerTarget(HostTarget("local://"), "docker", "recorded", "docker://recorded")
    return ContainerFacts(target, {"cgroups": reading}, None, "recorded")


def host_with(memory: int = 24 * 2 ** 30, cpus: int = 2, pid_max: int = 4194304) -> HostFacts:
    """A host that has this much: what a limit must stay below."""
    capacity = facts.Capacity().read(f"{memory // 1024}\n{cpus}\n{pid_max}\n", 0)
    return HostFacts(HostTarget("local://"), {"capacity": capacity})


HOST = host_with()


@pytest.mark.parametrize("recording, memory, pids, cpu", [
    ("cgroups.v1.txt", True, True, True),
    ("cgroups.v1-unlimited.txt", False, False, False),
    ("cgroups.v2.txt", True, True, True),
    ("cgroups.v2-unlimited.txt", False, False, False),
])
def test_resource_limits_from_recorded_cgroups(recording, memory, pids, cpu):
    ctr = cgroup_facts(recording)
    assert resources.check_memory_limit(HOST, ctr).holds is memory
    assert resources.check_pids_limit(HOST, ctr).holds is pids
    assert resources.check_cpu_limit(HOST, ctr).holds is cpu


def test_limits_say_how_much():
    assert "64 MiB" in resources.check_memory_limit(HOST, cgroup_facts("cgroups.v1.txt")).summary
    assert "1.50 CPUs" in resources.check_cpu_limit(HOST, cgroup_facts("cgroups.v2.txt")).summary


@pytest.mark.parametrize("limit, host, property_check, says", [
    ("memory.limit_in_bytes 1073741824000", host_with(memory=24 * 2 ** 30), resources.check_memory_limit,
     "limits nothing: the host has 24576 MiB"),
    ("memory.max 25769803776", host_with(memory=24 * 2 ** 30), resources.check_memory_limit, "limits nothing"),
    ("cpu.max 200000 100000", host_with(cpus=2), resources.check_cpu_limit, "limits nothing: the host has 2"),
    ("pids.max 4194304", host_with(pid_max=4194304), resources.check_pids_limit, "pid_max is 4194304"),
])
def test_a_limit_at_or_above_what_the_host_has_limits_nothing(limit, host, property_check, says):
    finding = property_check(host, cgroup_facts("", f"own /sys/fs/cgroup/x\n{limit}\n"))
    assert not finding.holds and says in finding.summary, finding.summary


def declared(host_config: dict, ctr: ContainerFacts) -> ContainerFacts:
    return ContainerFacts(ctr.target, ctr.outside, None, "", {"HostConfig": host_config})


def test_a_limit_set_above_the_container_bounds_it_and_says_where():
    """systemd's slice above the container's scope caps it: the lowest along the way is in force."""
    ctr = declared({}, cgroup_facts("cgroups.v2-parent.txt"))
    finding = resources.check_memory_limit(HOST, ctr)
    assert finding.holds and "256 MiB" in finding.summary, finding.summary
    assert "set above it, on /sys/fs/cgroup/system.slice" in finding.summary, finding.summary
    assert not resources.check_cpu_limit(HOST, ctr).holds  # no quota anywhere on the way up


def test_a_pids_limit_says_whether_the_engine_or_the_host_set_it():
    ctr = cgroup_facts("cgroups.v2-parent.txt")
    by_host = resources.check_pids_limit(HOST, declared({"PidsLimit": None}, ctr))
    assert by_host.holds and "not by the engine (HostConfig.PidsLimit is unset)" in by_host.summary, by_host.summary
    by_flag = resources.check_pids_limit(HOST, declared({"PidsLimit": 4915}, ctr))
    assert "the engine's flag (HostConfig.PidsLimit = 4915)" in by_flag.summary, by_flag.summary


def test_a_cgroup_without_the_controller_is_an_error_not_a_pass():
    ctr = cgroup_facts("cgroups.v2.txt")
    empty = ContainerFacts(ctr.target, {"cgroups": Reading("cgroups", "", 0, facts.CgroupFiles({}, {}))}, None, "")
    with pytest.raises(resources.Unobservable):
        resources.check_memory_limit(HOST, empty)


def test_device_rules_are_kept_line_by_line():
    rules = facts.Cgroups().parse((DATA / "cgroups.v1.txt").read_text()).own["devices.list"]
    assert set(rules) == linux.DEFAULT_DEVICE_RULES


def mount(major_minor, root, mount_point, fstype="ext4"):
    return Mount("1", major_minor, root, mount_point, "rw", "", fstype, "/dev/sda1")


@pytest.mark.parametrize("container_mount, expected", [
    (mount("8:1", "/", "/host"), "/"),
    (mount("8:1", "/etc", "/hostetc"), "/etc"),
    (mount("8:1", "/run/docker.sock", "/var/run/docker.sock"), "/run/docker.sock"),
    (mount("0:5", "/", "/dev"), "/dev"),
    (mount("0:52", "/", "/", "overlay"), None),  # the container's own filesystem
])
def test_container_mounts_map_back_to_host_paths(container_mount, expected):
    host = [mount("8:1", "/", "/"), mount("0:5", "/", "/dev", "devtmpfs"),
            mount("8:1", "/var/lib/docker/volumes", "/srv/volumes")]
    by_device = {"8:1": [host[0], host[2]], "0:5": [host[1]]}
    assert filesystem.host_path(container_mount, by_device) == expected


def test_device_nodes_from_stat_output():
    tmpfs = os.makedev(0, 54)
    text = (f"{tmpfs} 0 0 1 3 21b6 /proc/42/root/dev/null\n{tmpfs} 0 6 8 0 61b0 /proc/42/root/dev/sda\n"
            f"{os.makedev(0, 26)} 0 5 88 0 2190 /proc/42/root/dev/pts/0\n"
            f"{tmpfs} 0 0 a e8 2180 /proc/42/root/dev/console\n"
            f"{tmpfs} 0 0 1 5 21b6 /proc/42/root/dev/new\\nline\nmore 3000\n")
    listed = facts.Devices().parse(text)
    assert [(d.kind, d.major, d.minor, d.path, d.on) for d in listed.nodes] == [
        ("c", 1, 3, "/dev/null", "0:54"), ("b", 8, 0, "/dev/sda", "0:54"), ("c", 136, 0, "/dev/pts/0", "0:26"),
        ("c", 10, 232, "/dev/console", "0:54"), ("c", 1, 5, "/dev/new\\nline", "0:54")]
    assert listed.more == 3000
    # judged by numbers, never by name: /dev/kvm mounted as /dev/console is no console
    assert [linux.is_default_device(d) for d in listed.nodes] == [True, False, True, False, True]
