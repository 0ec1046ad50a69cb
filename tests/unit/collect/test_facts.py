"""Parsers on recorded outputs: GNU and busybox variants, and the edges they must refuse."""

from pathlib import Path

import pytest

from isoverify.collect import facts
from isoverify.model import root_mount

DATA = Path(__file__).resolve().parents[2] / "data"  # outputs recorded on real hosts


def recorded(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize("name, first, count", [
    ("ps_aux.gnu.txt", (1, "root", "/sbin/init"), 6),
    ("ps_aux.busybox.txt", (1, "root", "sh"), 2),
    ("ps_aux.busybox-short.txt", (1, "root", "sh"), 3),
])
def test_processes(name, first, count):
    processes = facts.Processes().parse(recorded(name))
    assert len(processes) == count
    assert (processes[0].pid, processes[0].user, processes[0].command) == first


def test_processes_keep_spaces_in_commands():
    processes = facts.Processes().parse(recorded("ps_aux.gnu.txt"))
    assert processes[2].command == "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"


@pytest.mark.parametrize("name, root", [
    ("df_h.gnu.txt", "/dev/sda1"),
    ("df_h.busybox.txt", "overlay"),
])
def test_disk_free_finds_the_root(name, root):
    rows = facts.DiskFree().parse(recorded(name))
    assert [r["filesystem"] for r in rows if r["mounted_on"] == "/"] == [root]


def test_disk_free_joins_busybox_wrapped_lines():
    rows = facts.DiskFree().parse(recorded("df_h.busybox.txt"))
    wrapped = next(r for r in rows if r["mounted_on"] == "/etc/hostname")
    assert wrapped["filesystem"] == "/dev/mapper/ubuntu--vg-ubuntu--lv"


@pytest.mark.parametrize("name, expected", [
    ("ip_link.gnu.txt", [("lo", "loopback", "00:00:00:00:00:00"), ("enp0s3", "ether", "08:00:27:8d:c0:4d"),
                         ("docker0", "ether", "02:42:5c:1e:7a:03"), ("vethb3f1c2a", "ether", "6e:0d:12:9a:44:e1")]),
    ("ip_o_link.gnu.txt", [("lo", "loopback", "00:00:00:00:00:00"), ("enp0s3", "ether", "08:00:27:8d:c0:4d"),
                           ("docker0", "ether", "02:42:5c:1e:7a:03"), ("vethb3f1c2a", "ether", "6e:0d:12:9a:44:e1")]),
    ("ip_link.busybox.txt", [("lo", "loopback", "00:00:00:00:00:00"), ("eth0", "ether", "02:42:ac:11:00:02")]),
])
def test_links(name, expected):
    links = facts.Links().parse(recorded(name))
    assert [(link.name, link.kind, link.mac) for link in links] == expected


def test_links_from_sysfs_when_ip_is_missing():
    links = facts.Links().parse("sysfs eth0 02:42:ac:11:00:02\nsysfs lo 00:00:00:00:00:00\n")
    assert [(link.name, link.loopback) for link in links] == [("eth0", False), ("lo", True)]


@pytest.mark.parametrize("name, expected", [
    ("id.gnu.txt", {"uid": 1000, "user": "vagrant", "gid": 1000}),
    ("id.busybox.txt", {"uid": 0, "user": "root", "gid": 0}),
])
def test_identity(name, expected):
    assert facts.Identity().parse(recorded(name)) == expected


def test_identity_without_names():
    assert facts.Identity().parse("uid=1000 gid=1000 groups=1000") == {"uid": 1000, "user": "", "gid": 1000}


def test_mountinfo_root_and_escapes():
    mounts = facts.Mounts("/proc/1").parse(recorded("mountinfo.container.txt"))
    root = root_mount(mounts)
    assert (root.fstype, root.major_minor, root.propagation) == ("overlay", "0:52", "master:272")
    assert mounts[-1].mount_point == "/data" and mounts[-1].root == "/home/vagrant/my data"
    host = root_mount(facts.Mounts("/proc/1").parse(recorded("mountinfo.host.txt")))
    assert (host.fstype, host.source) == ("ext4", "/dev/sda1")


def test_namespaces_from_ls_keep_only_well_formed_links():
    text = ("total 0\n"
            "lrwxrwxrwx 1 root root 0 Nov 27 09:41 pid -> pid:[4026531836]\n"
            "lrwxrwxrwx 1 root root 0 Nov 27 09:41 pid_for_children -> pid:[4026531836]\n"
            "lrwxrwxrwx 1 root root 0 Nov 27 09:41 uts -> uts:[12]<b>\n"
            "lrwxrwxrwx 1 root root 0 Nov 27 09:41 net -> user:[4026531837]\n"
            "lrwxrwxrwx    1 root     root             0 Nov 27 09:41 user -> user:[4026531837]\n")
    assert facts.Namespaces("/proc/1").parse(text) == {"pid": "pid:[4026531836]", "user": "user:[4026531837]"}


def test_id_map_ranges():
    assert facts.IdMap("/proc/1").parse("         0     100000      65536\n") == [(0, 100000, 65536)]
    assert facts.IdMap("/proc/1", "gid").command == "dump /proc/1/gid_map"


def test_process_table_joins_namespaces_and_status():
    text = ("4026531836 /proc/1/ns/pid\n4026532183 /proc/4242/ns/pid\n4026532183 /proc/4300/ns/pid\n"
            "4026532183 /proc/4400/ns/pid\n--\n"
            "/proc/1/status:Name:\tinit\n/proc/1/status:Uid:\t0\t0\t0\t0\n/proc/1/status:NSpid:\t1\n"
            "/proc/4242/status:Name:\tsh\n/proc/4242/status:Uid:\t0\t0\t0\t0\n/proc/4242/status:NSpid:\t4242\t1\n"
            "/proc/4300/status:Name:\tmy worker\n/proc/4300/status:Uid:\t1000\t1000\t1000\t1000\n"
            "/proc/4300/status:NSpid:\t4300\t7\n")  # 4400 exited in between: left out
    assert facts.ProcessTable().parse(text) == [
        facts.HostProcess(1, 4026531836, 1, 0, "init"), facts.HostProcess(4242, 4026532183, 1, 0, "sh"),
        facts.HostProcess(4300, 4026532183, 7, 1000, "my worker")]


def test_containers_are_resolved_and_inspected_each_on_its_own():
    full = "0123456789abcdef" * 4
    text = (f"ref web {full}\nref gone missing\nref 01 ambiguous {full},{'01' * 32}\n"
            f'{full} 4242 {{"State": {{"Pid": 4242, "Running": true}}}}\n'
            f'{"ab" * 32} 99 {{"State": {{"Pid": 99, "Runn\n')  # cut at the bound: unreadable alone
    found = facts.Containers("docker", ["web", "gone", "01"]).read(text, 0).value
    assert found["refs"] == {"web": facts.Resolution(full), "gone": facts.Resolution(None),
                             "01": facts.Resolution(None, (full, "01" * 32))}
    assert found["details"][full][0] == 4242
    assert found["details"]["ab" * 32] == (99, None)
    assert facts.Containers("docker", ["x"]).read("[]<garbage>", 0).value == {"refs": {}, "details": {}}


def test_pid_2_is_the_kernel_thread_only_with_the_kernels_flag():
    assert facts.KernelThread().parse("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0") is True
    assert facts.KernelThread().parse("2 (kthreadd) S 1 2 2 0 -1 4194560 0 0 0") is False  # a process named so


@pytest.mark.parametrize("fact, garbage", [
    (facts.Processes(), "no header here\n1 root sh"),
    (facts.DiskFree(), "<script>alert(1)</script>"),
    (facts.Links(), "\x00\xff garbage"),
    (facts.Identity(), "uid=root"),
    (facts.Hostname(), "\n"),
    (facts.FileIdentity("/"), "12:34 extra"),
    (facts.Namespaces("/proc/1"), "pid 4026531836"),
    (facts.Mounts("/proc/1"), "1 2 3"),
    (facts.IdMap("/proc/1"), "0 0"),
    (facts.KernelThread(), "2 kthreadd"),
    (facts.SameObject("true"), "1"),
    (facts.ProcessTable(), "1 init"),
    (facts.ProcessId("pid=1"), "none"),
])
def test_garbage_is_unreadable_not_guessed(fact, garbage):
    assert fact.read(garbage, 0).value is None


def test_a_failed_command_is_unreadable_whatever_it_printed():
    assert facts.Hostname().read("myhost\n", 1).value is None
