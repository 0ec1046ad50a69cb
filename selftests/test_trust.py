"""Verifying a container never lends it the verifier's privileges.

Trap containers replace every binary the suite could reach with a script that records
who runs it and tries to mount the host's root disk and leave a marker there, first
as itself, then through a setuid-root helper. Run through every inside mode on docker,
podman (rootful and rootless) and hand-made pid:// targets: no marker reaches the host,
and every trap that ran had exactly the container's own capabilities, seccomp mode,
no_new_privs and cgroup. A control run lends the trap the host's root, as a verifier
entering with nsenter would, and the marker does appear: the trap is armed.
"""

import io
import secrets
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import REPO, ROOTLESS_USER, SESSION_LABEL

TRAP_IMAGE = "isoverify-selftest-trap:latest"
HARDENED = dict(user="1000:1000", cap_drop=["ALL"], security_opt=["no-new-privileges"])
PODMAN_HARDENED = ["--user=1000:1000", "--cap-drop=ALL", "--security-opt=no-new-privileges"]
# What the containers run to start (a hand-made one: umount, rmdir, sleep) is left untrapped,
# so that every record is the verifier's doing.
UNTRAPPED = {"busybox", "sleep", "umount", "rmdir"}


def host_root() -> tuple[int, int, str]:
    """The host's root filesystem: its device numbers and type."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            major, minor = fields[2].split(":")
            root = (int(major), int(minor), fields[fields.index("-") + 1])
    return root


@pytest.fixture(scope="module")
def marker():
    """The name of the file a trap leaves on the host's root disk if it ever gets there."""
    name = f"isoverify-escaped-{secrets.token_hex(4)}"
    yield name
    Path("/", name).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def trap_tree(busybox_rootfs, open_tmp, marker) -> Path:
    """The busybox image's files with every applet a trap, and the escape helper twice:
    /bin/escape as it is, /bin/escape-setuid setuid root."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    tree = open_tmp / "trap-rootfs"
    shutil.copytree(busybox_rootfs, tree, symlinks=True)
    escape = tree / "bin" / "escape"
    subprocess.run(["gcc", "-static", "-O", "-o", str(escape), str(REPO / "selftests/helpers/escape.c")], check=True)
    shutil.copy2(escape, tree / "bin" / "escape-setuid")
    (tree / "bin" / "escape-setuid").chmod(0o4755)
    (tree / "trap.log").touch(mode=0o666)  # its non-root users write here too
    (tree / "trap.log").chmod(0o666)
    major, minor, fstype = host_root()
    for applet in (tree / "bin").iterdir():
        if applet.is_symlink() and applet.name not in UNTRAPPED:
            applet.unlink()
            applet.write_text(
                "#!/bin/busybox sh\n"
                f"for helper in escape escape-setuid; do echo \"== $helper {applet.name}\" >>/trap.log\n"
                f"  /bin/$helper {major} {minor} {fstype} {marker} >>/trap.log 2>&1; done\n"
                f"exec /bin/busybox {applet.name} \"$@\"\n")
            applet.chmod(0o755)
    return tree


def tar_of(tree: Path) -> bytes:
    """The tree as an image layer, every file root's (setuid-root helper included)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        archive.add(tree, arcname=".",
                    filter=lambda entry: entry.replace(uid=0, gid=0, uname="root", gname="root", deep=False))
    return layer.getvalue()


@pytest.fixture(scope="module")
def trap_image(docker_client, trap_tree):
    docker_client.api.import_image_from_data(tar_of(trap_tree), repository=TRAP_IMAGE.split(":")[0], tag="latest",
                                             changes=['CMD ["/bin/busybox", "sleep", "infinity"]'])
    return TRAP_IMAGE


@pytest.fixture(scope="module")
def podman_trap_image(trap_tree, podman_image):
    subprocess.run(["podman", "import", "--change", 'CMD ["/bin/busybox", "sleep", "infinity"]', "-", TRAP_IMAGE],
                   input=tar_of(trap_tree), check=True, capture_output=True)
    return TRAP_IMAGE


def records(log: str) -> list[dict[str, str]]:
    """The trap log as one dict per helper run: its kind, the applet, and what it printed."""
    found = []
    for line in log.splitlines():
        if line.startswith("== "):
            _, helper, applet = line.split()
            found.append({"helper": helper, "applet": applet, "cgroup": ""})
        elif line.startswith("escape: ") and found:
            text = line.removeprefix("escape: ")
            key, sep, value = text.partition(":\t")
            if sep and key in ("Uid", "CapEff", "Seccomp", "NoNewPrivs"):
                found[-1][key] = value.strip()
            else:
                found[-1]["cgroup"] += text + "\n"
        elif line == "escaped" and found:
            found[-1]["escaped"] = "yes"
    return found


def own_confinement(pid: int) -> dict[str, str]:
    """What the kernel says confines the container's main process, as the trap records it."""
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":\t" in line)
    own = {**{key: status[key].strip() for key in ("Uid", "CapEff", "CapBnd", "Seccomp", "NoNewPrivs")},
           "cgroup": Path(f"/proc/{pid}/cgroup").read_text()}
    # the trap sees its uids as its user namespace names them: translate the host's
    for inner, outer, count in (map(int, line.split()) for line in Path(f"/proc/{pid}/uid_map").read_text().splitlines()):
        own["Uid"] = "\t".join(str(int(uid) - outer + inner) if outer <= int(uid) < outer + count else uid
                               for uid in own["Uid"].split())
    return own


def assert_confined(url: str, ran: list[dict[str, str]], own: dict[str, str]) -> None:
    """Each trap run had the container's own seccomp mode, no_new_privs and cgroup; run as
    it was, its capabilities and uid; through the setuid helper, nothing beyond the
    container's bounding set — and under no_new_privs, nothing at all."""
    for record in ran:
        assert {key: record.get(key) for key in ("Seccomp", "NoNewPrivs", "cgroup")} == \
            {key: own[key] for key in ("Seccomp", "NoNewPrivs", "cgroup")}, (url, record)
        assert int(record["CapEff"], 16) & ~int(own["CapBnd"], 16) == 0, (url, record)
        if record["helper"] == "escape" or own["NoNewPrivs"] == "1":
            assert record["CapEff"] == own["CapEff"], (url, record)
            assert record["Uid"].split()[1] == own["Uid"].split()[1], (url, record)


@pytest.fixture
def traps(canary, podman_canary, handmade, trap_image, podman_trap_image, trap_tree):
    """One trap of each kind: {url: (host PID, function reading its trap log)}."""
    started = {}
    for options in ({}, HARDENED):
        container = canary(image=trap_image, tty=False, stdin_open=False, **options)
        container.reload()
        started[f"docker://{container.name}"] = (
            container.attrs["State"]["Pid"],
            lambda c=container: c.exec_run(["/bin/busybox", "cat", "/trap.log"]).output.decode())
    for extra in ([], PODMAN_HARDENED):
        name = podman_canary(*extra, image=podman_trap_image)
        pid = int(subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}", name], capture_output=True,
                                 text=True, check=True).stdout)
        started[f"podman://{name}"] = (pid, lambda n=name: subprocess.run(
            ["podman", "exec", n, "/bin/busybox", "cat", "/trap.log"], capture_output=True, text=True).stdout)
    pid = handmade("--pid", "--mount", "--uts", "--ipc", "--net", rootfs=trap_tree)
    log = Path(f"/proc/{pid}/root/trap.log")
    started[f"pid://{pid}"] = (pid, lambda: log.read_text() if log.exists() else "")
    return started


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_trap_runs_with_more_than_its_container_has(traps, suite, marker, inside):
    run = suite(*(f"--iso-container={url}" for url in traps), f"--iso-inside={inside}")
    assert not Path("/", marker).exists(), "a trap mounted the host's disk through the verifier"
    for url, (pid, trap_log) in traps.items():
        ran = records(trap_log())
        assert not any(r.get("escaped") for r in ran), (url, ran)
        if inside == "host" or url.startswith("pid://"):
            assert ran == [], f"{url}: the verifier ran the container's own binaries: {ran}"
            continue
        assert ran, f"{url}: the engine's exec ran nothing of the container's (is the trap armed?)\n{run.output}"
        assert_confined(url, ran, own_confinement(pid))
    assert run.exit_code in (0, 1), run.output
    assert not [r for r in run.results if r["verdict"] == "error"], [r["summary"] for r in run.results
                                                                   if r["verdict"] == "error"]


def test_the_trap_is_armed_when_lent_the_hosts_root(handmade, trap_tree, marker):
    """The control: the container's own binary run as host root through nsenter — what a
    verifier that enters a container's namespaces to run its commands does — escapes."""
    pid = handmade("--pid", "--mount", "--uts", "--ipc", "--net", rootfs=trap_tree)
    major, minor, fstype = host_root()
    try:
        done = subprocess.run(["nsenter", "-t", str(pid), "-m", "-p", "/bin/escape", str(major), str(minor), fstype,
                               marker], capture_output=True, text=True, timeout=30)
        assert "escaped" in done.stdout and Path("/", marker).exists(), done.stdout + done.stderr
    finally:
        Path("/", marker).unlink(missing_ok=True)


def test_rootless_podman_trap_has_no_more_than_its_container(rootless, trap_tree, suite, marker):
    name = f"isoverify-selftest-{secrets.token_hex(4)}"
    rootless("podman", "import", "--change", 'CMD ["/bin/busybox", "sleep", "infinity"]', "-", TRAP_IMAGE,
             input=tar_of(trap_tree), check=True)
    try:
        rootless("podman", "run", "-d", f"--name={name}", f"--label={SESSION_LABEL}", "--network=none",
                 TRAP_IMAGE, check=True)
        pid = int(rootless("podman", "inspect", "-f", "{{.State.Pid}}", name, text=True, check=True).stdout)
        own = own_confinement(pid)
        for inside in ("host", "exec"):
            run = suite(f"--iso-host=local://?sudo=true&sudo_user={ROOTLESS_USER}",
                        f"--iso-container=podman://{name}", f"--iso-inside={inside}", "-k", "pid or caps")
            assert run.exit_code == 0, run.output
            ran = records(rootless("podman", "exec", name, "/bin/busybox", "cat", "/trap.log", text=True).stdout)
            assert (ran == []) == (inside == "host"), (inside, ran)
            assert_confined(f"podman://{name} (rootless)", ran, own)
        assert not Path("/", marker).exists()
    finally:
        rootless("podman", "rm", "-f", "-t", "0", name)


def test_checks_of_your_own_run_nothing_beyond_the_containers_confinement(traps, suite, marker, tmp_path):
    """A check's command through iso_container runs the container's trapped /bin/sh: only
    through its engine's exec, with the container's own confinement; a bare process, which
    no engine confines, runs none."""
    check = tmp_path / "test_own_trap.py"
    check.write_text("import pytest\n\n\n@pytest.mark.iso_property('runs-true', 'A command of its own runs')\n"
                     "def test_runs_true(iso_container):\n    assert iso_container.run('true').rc == 0\n")
    run = suite(*(f"--iso-container={url}" for url in traps), str(check))
    assert not Path("/", marker).exists(), "a trap mounted the host's disk through a check"
    for url, (pid, trap_log) in traps.items():
        ran = records(trap_log())
        assert not any(r.get("escaped") for r in ran), (url, ran)
        if url.startswith("pid://"):
            assert ran == [], f"{url}: a check ran a bare process's own binaries: {ran}"
            continue
        assert ran, f"{url}: the check's exec ran nothing of the container's (is the trap armed?)\n{run.output}"
        assert_confined(url, ran, own_confinement(pid))
    verdicts = {r["target"].split(":")[0]: r["verdict"] for r in run.results if r["target"].startswith("pid")}
    assert verdicts == {"pid": "error"}, run.output
