"""The Pod Security Standards' profiles and their own checks, on hand-made facts (the real
pods are in tests/e2e/test_pss.py): each control judged to the standard's letter, from the
kernel where it shows it, else from what the pod declared, and saying which."""

from dataclasses import replace

import pytest

from isoverify.collect.cri import PodContainer
from isoverify.collect.cri.client import declared_config, declared_spec
from isoverify.collect.targets import CRI, ContainerTarget, HostTarget
from isoverify.judge.catalogue import BY_ID, PROFILES, PSS_BASELINE, PSS_RESTRICTED, own_property
from isoverify.judge.checks import filesystem, privileges, pss
from isoverify.judge.checks.base import Unobservable
from isoverify.judge.frameworks import POD_SECURITY
from isoverify.judge.verdict import Judge, judge
from isoverify.judge.words import ADVISORY, FAIL, PASS
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts, Member, Reading

HOST = HostFacts(HostTarget("local://"), {"lsm": Reading("lsm", "", 0, [])})
POD_UID = "0f6c2d9e-7a41-4b0e-9c55-3c1f1a2b4d5e"


def mask(names) -> str:
    return format(sum(1 << linux.CAPABILITIES.index(name) for name in names), "016x")


def config(container: dict | None = None, sandbox: dict | None = None):
    return declared_config(container or {}, sandbox or {})


def pod_facts(caps=linux.DEFAULT_CAPABILITIES["docker"], seccomp_mode="0", cfg=None, pid=4200, uid="0",
              nnp="0", bounding=None) -> ContainerFacts:
    made = PodContainer(
        runtime_name="containerd", runtime_version="1.6", sandbox_id="a" * 64, sandbox_pid=4100,
        pod_uid=POD_UID, pod_namespace="shop", pod_name="app", pod_labels={}, container_id="c" * 64,
        container_name="server", state="running", attempt=0, exit_code=0, created_at=1, finished_at=0, init=False,
        pid=4200, spec=None, labels={}, annotations={}, config=cfg if cfg is not None else config())
    target = ContainerTarget(HostTarget("local://"), CRI, made.container_id, "cri://shop/app/server", made)
    status = {name: mask(caps) for name in ("CapPrm", "CapEff")}
    status.update(CapBnd=mask(caps if bounding is None else bounding), CapInh="0" * 16, CapAmb="0" * 16,
                  Seccomp=seccomp_mode, Seccomp_filters="0", Tgid=str(pid), Uid=" ".join([uid] * 4), NoNewPrivs=nnp)
    outside = {"locate": Reading("locate", str(pid), 0, pid), "status": Reading("status", "", 0, status),
               "label": Reading(f"cat /proc/{pid}/attr/current", "", 0, "")}
    return ContainerFacts(target, outside, None, "read by the host")


def docker_facts(host_config: dict) -> ContainerFacts:
    target = ContainerTarget(HostTarget("local://"), "docker", "web", "docker://web")
    outside = {"locate": Reading("locate", "42", 0, 42),
               "status": Reading("status", "", 0, {"Seccomp": "2", "Tgid": "42"}),
               "label": Reading("cat /proc/42/attr/current", "", 0, "")}
    return ContainerFacts(target, outside, None, "", declared={"HostConfig": host_config})


# -- the profiles ---------------------------------------------------------------------------

def test_each_level_enforces_a_property_for_every_control_but_hostprocess():
    """Every control of the standard is judged by a property its level enforces (HostProcess
    is Windows' alone); restricted's own capabilities and seccomp replace baseline's."""
    def controls(profile):
        return {c.id for prop_id in profile for c in BY_ID[prop_id].controls if c.framework == POD_SECURITY.name}
    baseline_items = {"hostNetwork", "hostPID", "hostIPC", "privileged", "capabilities", "hostPath volumes",
                      "hostPorts", "AppArmor", "SELinux", "procMount", "seccompProfile", "sysctls"}
    assert baseline_items <= controls(PSS_BASELINE)
    assert baseline_items | {"volume types", "allowPrivilegeEscalation", "runAsNonRoot", "runAsUser"} \
        <= controls(PSS_RESTRICTED)
    assert {"pss-caps", "pss-seccomp"}.isdisjoint(PSS_RESTRICTED)
    assert {"pss-caps-restricted", "pss-seccomp-restricted", "nnp", "nonroot"} <= set(PSS_RESTRICTED)
    assert {item for item, _ in POD_SECURITY.items} - controls(PSS_RESTRICTED) == {"HostProcess"}


def test_a_check_of_ones_own_climbs_its_own_ladder():
    assert own_property("mine", "t").enforced_in == tuple(PROFILES)
    assert own_property("mine", "t", profile="hardened").enforced_in == ("hardened",)
    assert own_property("mine", "t", profile="pss-baseline").enforced_in == ("pss-baseline", "pss-restricted")


# -- capabilities, from the kernel ---------------------------------------------------------

def test_the_runtimes_default_passes_baseline_and_an_added_capability_fails_it():
    assert pss.check_caps_baseline(HOST, pod_facts()).holds
    found = pss.check_caps_baseline(HOST, pod_facts(caps=linux.DEFAULT_CAPABILITIES["docker"] | {"SYS_ADMIN"}))
    assert not found.holds and found.items == ("SYS_ADMIN",), found.summary


def test_net_raw_added_by_the_pod_fails_baseline_though_the_runtime_gives_it_by_default():
    added = pod_facts(cfg=config({"linux": {"security_context": {"capabilities": {"add_capabilities": ["NET_RAW"]}}}}))
    found = pss.check_caps_baseline(HOST, added)
    assert not found.holds and found.items == ("NET_RAW",), found.summary


def test_restricted_wants_every_capability_dropped_but_net_bind_service():
    assert pss.check_caps_restricted(HOST, pod_facts(caps={"NET_BIND_SERVICE"})).holds
    found = pss.check_caps_restricted(HOST, pod_facts(caps={"NET_BIND_SERVICE", "CHOWN"}))
    assert not found.holds and found.items == ("CHOWN",), found.summary


@pytest.mark.parametrize("pid, uid, nnp, holds", [
    (4100, "65535", "1", True),  # the sandbox, not root, no_new_privs: its bounding set is out of reach
    (4100, "0", "1", False),  # as root an exec regains it
    (4100, "65535", "0", False),  # without no_new_privs a setuid binary does
    (4200, "65535", "1", False),  # the container itself: the letter wants them dropped
])
def test_of_the_pods_sandbox_only_the_capabilities_it_can_use_count(pid, uid, nnp, holds):
    ctr = pod_facts(caps=set(), bounding=linux.DEFAULT_CAPABILITIES["docker"], pid=pid, uid=uid, nnp=nnp)
    assert pss.check_caps_restricted(HOST, ctr).holds is holds


# -- seccomp: the letter, with the kernel's word beside it ------------------------------------

def test_unset_seccomp_passes_baseline_and_says_no_filter_is_in_force():
    found = pss.check_seccomp_baseline(HOST, pod_facts(seccomp_mode="0"))
    assert found.holds and "not set" in found.summary and "no filter in force" in found.summary, found.summary
    assert pss.DECLARED in found.summary


@pytest.mark.parametrize("declared", [{"seccomp": {"profile_type": 1}}, {"seccomp_profile_path": "unconfined"}])
def test_unconfined_seccomp_fails_baseline(declared):
    found = pss.check_seccomp_baseline(HOST, pod_facts(cfg=config({"linux": {"security_context": declared}})))
    assert not found.holds and found.items == ("Unconfined",), found.summary


@pytest.mark.parametrize("declared, mode, holds", [
    ({}, "2", False),  # unset: restricted wants one named
    ({"seccomp": {}}, "2", True),  # RuntimeDefault is profile type 0, which the JSON leaves out
    ({"seccomp": {"profile_type": 2, "localhost_ref": "/p.json"}}, "2", True),
    ({"seccomp": {}}, "0", False),  # named, but the kernel shows none in force
])
def test_restricted_wants_a_profile_named_and_in_force(declared, mode, holds):
    ctr = pod_facts(seccomp_mode=mode, cfg=config({"linux": {"security_context": declared}}))
    assert pss.check_seccomp_restricted(HOST, ctr).holds is holds


# -- declared only ---------------------------------------------------------------------------

def test_host_ports_and_sysctls_are_read_from_the_sandbox_config():
    sandbox = {"port_mappings": [{"container_port": 80, "host_port": 8080}, {"container_port": 53, "protocol": 1}],
               "linux": {"sysctls": {"net.ipv4.tcp_syncookies": "1", "kernel.msgmax": "65536"}}}
    ctr = pod_facts(cfg=config(sandbox=sandbox))
    ports = pss.check_host_ports(HOST, ctr)
    assert not ports.holds and ports.items == ("8080/TCP",) and pss.DECLARED in ports.summary
    sysctls = pss.check_sysctls(HOST, ctr)
    assert not sysctls.holds and sysctls.items == ("kernel.msgmax",), sysctls.summary
    assert pss.check_host_ports(HOST, pod_facts()).holds and pss.check_sysctls(HOST, pod_facts()).holds


@pytest.mark.parametrize("context, apparmor, selinux", [
    ({}, (), ()),
    ({"apparmor": {"profile_type": 1}}, ("Unconfined",), ()),
    ({"apparmor": {}}, (), ()),
    ({"selinux_options": {"type": "container_t", "level": "s0:c1,c2"}}, (), ()),
    ({"selinux_options": {"type": "spc_t"}}, (), ("type spc_t",)),
    ({"selinux_options": {"role": "sysadm_r"}}, (), ("role sysadm_r",)),
])
def test_apparmor_and_selinux_options(context, apparmor, selinux):
    ctr = pod_facts(cfg=config({"linux": {"security_context": context}}))
    assert pss.check_apparmor(HOST, ctr).items == apparmor
    assert pss.check_selinux(HOST, ctr).items == selinux


APPARMOR_HOST = HostFacts(HostTarget("local://"), {"lsm": Reading("lsm", "apparmor", 0, frozenset({"apparmor"}))})
CONFINED = "cri-containerd.apparmor.d (enforce)"


def labelled(ctr: ContainerFacts, label: str) -> ContainerFacts:
    return replace(ctr, outside={**ctr.outside, "label": Reading("cat /proc/4200/attr/current", label, 0, label)})


@pytest.mark.parametrize("context, label, holds", [
    ({}, CONFINED, True),
    ({"apparmor": {"profile_type": 0}}, CONFINED, True),
    ({}, "unconfined", False),  # asked for the default, not given it
    ({"apparmor": {"profile_type": 1}}, "unconfined", False),
    ({"apparmor": {"profile_type": 1}}, CONFINED, False),  # the letter: Unconfined is never allowed
    # complain mode logs what it would refuse, and refuses nothing
    ({"apparmor": {"profile_type": 2, "localhost_ref": "lenient"}}, "lenient (complain)", False),
])
def test_apparmor_is_judged_from_each_tasks_label_where_the_host_runs_it(context, label, holds):
    ctr = labelled(pod_facts(cfg=config({"linux": {"security_context": context}})), label)
    found = pss.check_apparmor(APPARMOR_HOST, ctr)
    assert found.holds is holds, found.summary
    assert ("the kernel confines process 4200" if holds else "the kernel shows process 4200") in found.summary
    assert pss.DECLARED not in found.summary


def test_a_second_task_unconfined_or_unfiltered_breaks_apparmor_and_seccomp():
    """Each task is judged: a process started outside the profile or the filter is not confined."""
    filtered = {"seccomp": {"profile_type": 0}}
    ctr = labelled(pod_facts(seccomp_mode="2", cfg=config({"linux": {"security_context": filtered}})), CONFINED)
    loose = Member("4300", {"Tgid": "4300", "Name": "sh", "Seccomp": "0"}, {}, "", [], "unconfined")
    ctr = replace(ctr, outside={**ctr.outside, "members": Reading("members", "", 0, [loose])})
    for prop in ("pss-apparmor", "pss-seccomp-restricted"):
        verdict = judge(BY_ID[prop], "cri://shop/app/server", True, APPARMOR_HOST, ctr)
        assert verdict.status == FAIL and verdict.summary.startswith("its process 4300 (sh), not its main one"), \
            (prop, verdict.summary)
    alone = replace(ctr, outside={**ctr.outside, "members": Reading("members", "", 0, [])})
    assert {judge(BY_ID[p], "t", True, APPARMOR_HOST, alone).status
            for p in ("pss-apparmor", "pss-seccomp-restricted")} == {PASS}


def test_an_unfiltered_sandbox_counts_only_within_its_containers_reach():
    """A kubelet filters the sandbox by the pod's profile alone: left unfiltered, it breaks
    restricted only where the container shares its PID namespace (and can trace it)."""
    filtered = {"seccomp": {"profile_type": 0}}
    main = pod_facts(seccomp_mode="2", cfg=config({"linux": {"security_context": filtered}}))
    main = replace(main, outside={**main.outside, "ns": Reading("ns", "", 0, {"pid": "pid:[1]"})})

    def with_sandbox_in(pid_namespace: str) -> ContainerFacts:
        sandbox = Member("4100", {"Tgid": "4100", "Name": "pause", "Seccomp": "0"}, {"pid": pid_namespace}, "", [],
                         "")
        return replace(main, outside={**main.outside, "members": Reading("members", "", 0, [sandbox])})
    apart = judge(BY_ID["pss-seccomp-restricted"], "t", True, HOST, with_sandbox_in("pid:[2]"))
    assert apart.status == PASS, apart.summary
    shared = judge(BY_ID["pss-seccomp-restricted"], "t", True, HOST, with_sandbox_in("pid:[1]"))
    assert shared.status == FAIL and shared.summary.startswith("the pod's sandbox (process 4100, pause)"), \
        shared.summary


def test_the_pods_sandbox_unconfined_is_shown_not_judged_for_apparmor():
    """containerd starts a pod's sandbox with no AppArmor profile whatever the pod asks: it is
    the runtime's process, which no container's profile describes; a thread of it likewise."""
    sandbox = Member("4100", {"Tgid": "4100", "Name": "pause"}, {}, "", [], "unconfined")
    its_thread = Member("4101", {"Tgid": "4100", "Name": "pause"}, {}, "", [], "unconfined")
    ctr = labelled(pod_facts(), CONFINED)
    ctr = replace(ctr, outside={**ctr.outside, "members": Reading("members", "", 0, [sandbox, its_thread])})
    verdict = judge(BY_ID["pss-apparmor"], "cri://shop/app/server", True, APPARMOR_HOST, ctr)
    assert verdict.status == PASS, verdict.summary
    assert "the kernel confines process 4200" in verdict.summary
    assert "the pod's sandbox (process 4100), the runtime's own process" in verdict.summary
    asked_unconfined = labelled(pod_facts(cfg=config({"linux": {"security_context": {
        "apparmor": {"profile_type": 1}}}})), CONFINED)
    assert judge(BY_ID["pss-apparmor"], "t", True, APPARMOR_HOST,
                 replace(asked_unconfined, outside={**asked_unconfined.outside, **{
                     "members": Reading("members", "", 0, [sandbox])}})).status == FAIL


def test_a_pods_capabilities_are_measured_against_its_runtimes_default():
    """By the name the runtime gives itself: containerd's CRI grants Docker's fourteen; a
    runtime the project has not tried is measured against Docker's, and the summary says whose."""
    host = HostFacts(HostTarget("local://"), {"cap_last_cap": Reading("cap_last_cap", "40", 0, 40)})
    ctr = pod_facts()
    assert privileges.check_caps(host, ctr).summary.endswith("all within containerd's default set of 14")
    pod = replace(ctr.target.pod, runtime_name="cri-o")
    other = replace(ctr, target=replace(ctr.target, pod=pod))
    assert privileges.check_caps(host, other).summary.endswith("all within docker's default set of 14")


def ran(context: dict, mounts=(), uid=0, seccomp=None) -> PodContainer:
    """An init container that ran and exited, with what its runtime still holds."""
    spec = declared_spec({"process": {"user": {"uid": uid, "gid": uid}, "noNewPrivileges": uid != 0,
                                      "capabilities": {"bounding": ["CAP_CHOWN"] if uid == 0 else []}},
                          "linux": {"seccomp": seccomp, "namespaces": [{"type": "ipc", "path": "/proc/1/ns/ipc"}]},
                          "mounts": list(mounts)})
    made = pod_facts(cfg=config({"linux": {"security_context": context}})).target.pod
    return replace(made, state="exited", pid=0, init=True, finished_at=2, spec=spec)


def test_an_init_container_is_judged_by_what_its_runtime_still_holds():
    """No process is left to read: the controls its config and runtime spec answer are judged
    from them and enforced; the rest are advisories that say nothing was observed."""
    hostile = ran({"seccomp": {"profile_type": 1}, "capabilities": {"add_capabilities": ["SYS_ADMIN"]}},
                  mounts=[{"destination": "/host", "source": "/", "type": "bind"},
                          {"destination": "/etc/hosts", "type": "bind",
                           "source": f"/var/lib/kubelet/pods/{POD_UID}/etc-hosts"},
                          {"destination": "/proc", "source": "proc", "type": "proc"}])
    baseline, judge = Judge(profile="pss-baseline"), Judge(profile="pss-restricted")
    for level, prop, item in ((baseline, "pss-caps", "SYS_ADMIN"), (baseline, "pss-seccomp", "Unconfined"),
                              (baseline, "pss-host-path", "/"), (judge, "pss-caps-restricted", "CHOWN"),
                              (judge, "nonroot", "0"), (judge, "nnp", "allowPrivilegeEscalation")):
        verdict = level.ran_before(BY_ID[prop], "cri://shop/app/init", hostile)
        assert verdict.status == FAIL and verdict.enforced and item in verdict.items, (prop, verdict)
        assert verdict.summary.startswith("an init container that ran to completion (exit code 0), judged by")
    quiet = ran({"seccomp": {"profile_type": 0}, "capabilities": {"drop_capabilities": ["ALL"]}}, uid=1000,
                seccomp={"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []})
    assert {p: judge.ran_before(BY_ID[p], "t", quiet).status for p in pss.FROM_DECLARATION} == \
        dict.fromkeys(pss.FROM_DECLARATION, PASS)
    unseen = judge.ran_before(BY_ID["pid"], "t", hostile)
    assert unseen.status == ADVISORY and not unseen.enforced and "not judged of it" in unseen.summary


def test_a_docker_container_is_judged_from_its_inspect_document():
    ctr = docker_facts({"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                        "Sysctls": {"kernel.msgmax": "1"}, "CapAdd": ["CAP_NET_ADMIN"],
                        "SecurityOpt": ["seccomp=unconfined", "label=type:spc_t"]})
    assert pss.check_host_ports(HOST, ctr).items == ("8080/TCP",)
    assert pss.check_sysctls(HOST, ctr).items == ("kernel.msgmax",)
    assert pss.check_seccomp_baseline(HOST, ctr).items == ("Unconfined",)
    assert pss.check_selinux(HOST, ctr).items == ("type spc_t",)
    default = docker_facts({})
    assert pss.declared(default).seccomp == "RuntimeDefault" and pss.check_seccomp_restricted(HOST, default).holds


def test_a_bare_process_declares_nothing_an_error_not_a_pass():
    bare = replace(docker_facts({}), declared=None,
                   target=ContainerTarget(HostTarget("local://"), "pid", "42", "pid://42"))
    with pytest.raises(Unobservable, match="declares nothing"):
        pss.check_host_ports(HOST, bare)


def test_a_pod_whose_runtime_kept_no_config_is_an_error():
    ctr = pod_facts()
    ctr = replace(ctr, target=replace(ctr.target, pod=replace(ctr.target.pod, config=None, info_error="no info")))
    with pytest.raises(Unobservable, match="no config"):
        pss.check_sysctls(HOST, ctr)


# -- which host paths are the pod's own ---------------------------------------------------------

@pytest.mark.parametrize("path, plugin", [
    (f"/var/lib/kubelet/pods/{POD_UID}/volumes/kubernetes.io~empty-dir/cache", "empty-dir"),
    (f"/var/lib/kubelet/pods/{POD_UID}/volumes/kubernetes.io~nfs/share/sub", "nfs"),
    (f"/var/lib/kubelet/pods/{POD_UID}/etc-hosts", ""),
    ("/var/lib/kubelet/pods/another-pods-uid/volumes/kubernetes.io~empty-dir/cache", None),
    (f"/var/lib/kubelet/pods/{POD_UID}", None),
    ("/srv/data", None),
])
def test_a_pods_own_volumes_are_known_by_its_uid(path, plugin):
    assert filesystem.pod_volume(pod_facts(), path) == plugin
