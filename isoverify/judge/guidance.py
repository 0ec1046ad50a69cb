"""Why each property matters, how severe its failure is, and how to fix one in each runtime.

One entry per property ID of the catalogue. A remediation names the change in
every runtime the suite knows: the `docker run` flag, the Compose key, the
`podman run` flag, the Kubernetes pod or securityContext field, and for a
container made by hand with `unshare`, what to give it. A runtime it does not
apply to is left out.
"""

from dataclasses import dataclass

from isoverify.judge.words import HIGH, INFO, LOW, MEDIUM

# How reports name each runtime of a remediation, in the order they show them.
RUNTIMES = {"docker": "docker run", "compose": "Compose", "podman": "podman run",
            "kubernetes": "Kubernetes", "process": "by hand (unshare)"}


@dataclass(frozen=True)
class Guidance:
    severity: str
    rationale: str  # why it matters, in a sentence or two
    action: str  # what to change, whatever runs the container
    docker: str = ""
    compose: str = ""
    podman: str = ""
    kubernetes: str = ""
    process: str = ""

    def remediation(self) -> dict[str, str]:
        """The fix as the records carry it: the action, then each runtime that has one."""
        return {"action": self.action,
                **{runtime: getattr(self, runtime) for runtime in RUNTIMES if getattr(self, runtime)}}


GUIDANCE: dict[str, Guidance] = {
    "root": Guidance(
        HIGH, "A container whose / is the host's / reads and changes every file of the host: its "
              "programs, its keys, the other containers' data.",
        "Give it its own root from an image, and start its entrypoint without a chroot into a host path.",
        docker="drop the bind of the host's `/` (`-v /:/host`)",
        compose="remove `- /:/host` from `volumes:`",
        podman="drop `-v /:/host`, and `--rootfs /`",
        kubernetes="remove the `hostPath` volume with `path: /`",
        process="`pivot_root` into a root of its own after `unshare --mount`"),
    "rootfs": Guidance(
        MEDIUM, "A copy-on-write root of its own keeps what the container writes out of the image and "
                "out of the host's directories.",
        "Run it from an image through the engine's storage driver, not on a directory of the host.",
        docker="run an image (the storage driver gives it an overlay root)",
        compose="give the service an `image:`",
        podman="drop `--rootfs PATH`; run an image",
        kubernetes="run an image (the node's runtime gives it an overlay root)",
        process="mount an overlay of the image's files and `pivot_root` into it"),
    "pid": Guidance(
        HIGH, "In the host's PID namespace it sees every process of the host, reads their command "
              "lines and environment, and can signal or trace them.",
        "Give it its own PID namespace.",
        docker="remove `--pid=host`", compose="remove `pid: host`", podman="remove `--pid=host`",
        kubernetes="`spec.hostPID: false` (the default)", process="`unshare --pid --fork --mount-proc`"),
    "net": Guidance(
        HIGH, "In the host's network namespace it binds the host's ports, reaches every service "
              "listening on the host's loopback, and can watch the host's traffic.",
        "Give it its own network namespace.",
        docker="remove `--network=host` (`--net=host`)", compose="remove `network_mode: host`",
        podman="remove `--network=host`", kubernetes="`spec.hostNetwork: false` (the default)",
        process="`unshare --net`"),
    "uts": Guidance(
        LOW, "In the host's UTS namespace it can rename the host for everyone (with CAP_SYS_ADMIN) "
             "and learns the host's name.",
        "Give it its own UTS namespace.",
        docker="remove `--uts=host`", compose="remove `uts: host`", podman="remove `--uts=host`",
        kubernetes="`spec.hostNetwork: false`: a pod shares the host's UTS namespace only with its network",
        process="`unshare --uts`"),
    "user": Guidance(
        MEDIUM, "Without a user namespace its root is the host's root: whatever gets past the other "
                "walls acts with the host's full authority.",
        "Run it in a user namespace whose root maps to an unprivileged host uid.",
        docker="start dockerd with `--userns-remap=default`, and no `--userns=host`",
        compose="a daemon with `userns-remap`, and no `userns_mode: host`",
        podman="`--userns=auto`, or rootless podman",
        kubernetes="`spec.hostUsers: false`",
        process="`unshare --user --map-auto` (a range from /etc/subuid)"),
    "ipc": Guidance(
        MEDIUM, "The host's IPC namespace shares its System V shared memory, semaphores and message "
                "queues: it can read or corrupt what other processes keep there.",
        "Give it its own IPC namespace.",
        docker="remove `--ipc=host`", compose="remove `ipc: host`", podman="remove `--ipc=host`",
        kubernetes="`spec.hostIPC: false` (the default)", process="`unshare --ipc`"),
    "cgroupns": Guidance(
        LOW, "In the host's cgroup namespace it sees the host's whole cgroup tree: the paths name the "
             "host's services and the other containers.",
        "Give it its own cgroup namespace.",
        docker="`--cgroupns=private` (the default on cgroup v2)", compose="`cgroup: private`",
        podman="`--cgroupns=private`",
        kubernetes="a node on cgroup v2: containerd and CRI-O then give each container its own",
        process="`unshare --cgroup`"),
    "mntns": Guidance(
        HIGH, "Sharing the host's mount namespace makes the host's mounts its own: it sees the host's "
              "filesystem tree, and what it mounts appears on the host.",
        "Give it its own mount namespace; `docker run`, `podman run` and Kubernetes always do, so a "
        "failure means it was started some other way.",
        process="`unshare --mount`"),
    "timens": Guidance(
        INFO, "A time namespace only offsets its monotonic and boot-time clocks; engines do not make "
              "one, so sharing the host's is normal. Shown for completeness.",
        "Nothing is needed; for a container made by hand a time namespace of its own is possible.",
        process="`unshare --time`"),
    "caps": Guidance(
        HIGH, "Every capability beyond the runtime's default opens kernel interfaces a container does "
              "not need; SYS_ADMIN alone allows mounts and most known escapes.",
        "Drop every capability it does not need, and add back only those it does.",
        docker="remove the `--cap-add` flags; better `--cap-drop=ALL --cap-add=NEEDED`",
        compose="`cap_drop: [ALL]` and only the needed ones in `cap_add:`",
        podman="remove the `--cap-add` flags; better `--cap-drop=all --cap-add=NEEDED`",
        kubernetes="`securityContext.capabilities: {drop: [ALL], add: [NEEDED]}`",
        process="drop them with `capsh --drop=...` or `setpriv --bounding-set`"),
    "privileged": Guidance(
        HIGH, "A privileged-equivalent container has every capability, no effective seccomp filter and "
              "the host's devices or an unmasked /proc: taking over the host is a few commands away.",
        "Run it unprivileged, and none of the flags that add up to the same.",
        docker="remove `--privileged`, `--cap-add=ALL`, `--security-opt seccomp=unconfined` and "
               "`--device-cgroup-rule='a *:* rwm'`",
        compose="`privileged: false`, and no `cap_add: [ALL]` or `seccomp:unconfined`",
        podman="remove `--privileged` and `--cap-add=all`",
        kubernetes="`securityContext.privileged: false`"),
    "seccomp": Guidance(
        HIGH, "A seccomp filter refuses the system calls a container has no use for (mount, unshare, "
              "bpf, kexec, keyrings…), the part of the kernel most exploits go through.",
        "Keep the runtime's default seccomp profile, or a stricter one.",
        docker="remove `--security-opt seccomp=unconfined` (or a profile that allows everything)",
        compose="remove `seccomp:unconfined` from `security_opt:`",
        podman="remove `--security-opt seccomp=unconfined`",
        kubernetes="`securityContext.seccompProfile.type: RuntimeDefault`"),
    "nnp": Guidance(
        MEDIUM, "Without no_new_privs a setuid program in the image turns an unprivileged process back "
                "into root.",
        "Set no_new_privs on it.",
        docker="`--security-opt no-new-privileges`", compose="`security_opt: [\"no-new-privileges:true\"]`",
        podman="`--security-opt no-new-privileges`",
        kubernetes="`securityContext.allowPrivilegeEscalation: false`", process="`setpriv --no-new-privs`"),
    "lsm": Guidance(
        MEDIUM, "An AppArmor or SELinux label limits which files and operations it can reach even as "
                "root; without one only the other walls stand.",
        "Run it on a host with AppArmor or SELinux on, under the runtime's default label.",
        docker="remove `--security-opt apparmor=unconfined` and `label=disable`",
        compose="remove `apparmor:unconfined` and `label:disable` from `security_opt:`",
        podman="remove `--security-opt label=disable` and `apparmor=unconfined`",
        kubernetes="`securityContext.appArmorProfile.type: RuntimeDefault`, or `seLinuxOptions`"),
    "nonroot": Guidance(
        MEDIUM, "Processes running as the host's root own every file root owns the moment they reach "
                "outside the container.",
        "Run it as an unprivileged user, or in a user namespace.",
        docker="`--user 1000:1000` (or `USER` in the image)", compose="`user: \"1000:1000\"`",
        podman="`--user 1000:1000`, or rootless podman",
        kubernetes="`securityContext.runAsNonRoot: true` and `runAsUser: 1000`",
        process="`setpriv --reuid=1000 --regid=1000 --clear-groups`"),
    "masked-paths": Guidance(
        HIGH, "/proc/kcore, /proc/keys, /sys/firmware and their like expose kernel memory, keys and "
              "firmware to whoever reads them; runtimes mask them.",
        "Keep the runtime's masked paths, and mount no host /proc or /sys into it.",
        docker="remove `--security-opt systempaths=unconfined` and any `-v /proc:…` or `-v /sys:…`",
        compose="remove `systempaths=unconfined` from `security_opt:` and host /proc or /sys from `volumes:`",
        podman="remove `--security-opt unmask=…` and any `-v /proc:…`",
        kubernetes="`securityContext.procMount: Default`, and no `hostPath` of /proc or /sys"),
    "readonly-paths": Guidance(
        HIGH, "Writable /proc/sys or /proc/sysrq-trigger let it change the host's kernel settings, or "
              "reboot the host.",
        "Keep the runtime's read-only paths, and mount no host /proc into it.",
        docker="remove `--security-opt systempaths=unconfined` and any `-v /proc/sys:…`",
        compose="remove `systempaths=unconfined` from `security_opt:` and host /proc from `volumes:`",
        podman="remove `--security-opt unmask=…` and any `-v /proc/sys:…`",
        kubernetes="`securityContext.procMount: Default`, and no `hostPath` of /proc"),
    "readonly-rootfs": Guidance(
        LOW, "A read-only root stops an intruder from installing tools or changing the application's "
             "files.",
        "Mount its root read-only, and give it a tmpfs where it must write.",
        docker="`--read-only --tmpfs /tmp`", compose="`read_only: true`, with `tmpfs: [/tmp]`",
        podman="`--read-only`", kubernetes="`securityContext.readOnlyRootFilesystem: true`",
        process="`mount -o remount,ro` its root before `pivot_root`"),
    "host-mounts": Guidance(
        HIGH, "A host directory of the system's files, of the kernel's control filesystems or of an "
              "engine's state hands the host over, read-only or not.",
        "Mount none of these host paths; keep data in a volume.",
        docker="remove the `-v HOST:…` or `--mount type=bind,source=HOST` of that path; use a named volume",
        compose="remove that host path from `volumes:`; use a named volume",
        podman="remove the `-v HOST:…` of that path; use a named volume",
        kubernetes="remove the `hostPath` volume; use `emptyDir` or a PersistentVolumeClaim"),
    "runtime-socket": Guidance(
        HIGH, "Whoever reaches an engine's socket can ask it for a privileged container: it is root on "
              "the host.",
        "Mount no engine or runtime socket into it, and keep it out of the host's network namespace.",
        docker="remove `-v /var/run/docker.sock:…` (and containerd's sockets)",
        compose="remove `/var/run/docker.sock` from `volumes:`",
        podman="remove `-v /run/podman/podman.sock:…`",
        kubernetes="no `hostPath` of /var/run/docker.sock, /run/containerd or /var/run/crio"),
    "propagation": Guidance(
        MEDIUM, "Shared propagation carries mounts both ways: one it makes can appear on the host, and "
                "the host's appear inside it.",
        "Bind host paths with private propagation (the default).",
        docker="drop `:shared`/`:rshared` from `-v`, or `bind-propagation=rprivate`",
        compose="`bind: {propagation: rprivate}` on the volume",
        podman="drop `:shared`/`:rshared` from `-v`",
        kubernetes="`volumeMounts[].mountPropagation: None`"),
    "devices": Guidance(
        HIGH, "A host device it can open (a disk, /dev/mem, /dev/kmsg) reads or writes the host below "
              "every filesystem check.",
        "Give it no host device beyond what it needs, and no device cgroup rule that opens more.",
        docker="remove `--device`, `--device-cgroup-rule` and `-v /dev:/dev`",
        compose="remove `devices:` and `device_cgroup_rules:`",
        podman="remove `--device` and `--device-cgroup-rule`",
        kubernetes="no `hostPath` of /dev and no `privileged: true`"),
    "memory-limit": Guidance(
        MEDIUM, "Without a memory limit one container can take the host's memory and make the kernel "
                "kill other workloads.",
        "Limit its memory below what the host has.",
        docker="`--memory=512m`", compose="`mem_limit: 512m` (or `deploy.resources.limits.memory`)",
        podman="`--memory=512m`", kubernetes="`resources.limits.memory: 512Mi`"),
    "cpu-limit": Guidance(
        LOW, "Without a CPU quota one container can keep every CPU of the host busy and starve the "
             "others.",
        "Cap its CPU time below the host's CPUs.",
        docker="`--cpus=1`", compose="`cpus: 1` (or `deploy.resources.limits.cpus`)",
        podman="`--cpus=1`", kubernetes="`resources.limits.cpu: \"1\"`"),
    "pids-limit": Guidance(
        MEDIUM, "Without a process limit a fork bomb inside fills the host's process table.",
        "Limit the number of its processes.",
        docker="`--pids-limit=256`", compose="`pids_limit: 256`", podman="`--pids-limit=256`",
        kubernetes="the kubelet's `podPidsLimit`"),
    "pss-caps": Guidance(
        HIGH, "The Pod Security Standards' baseline forbids adding any capability beyond a short list: "
              "SYS_ADMIN, NET_ADMIN, SYS_PTRACE and their like open the kernel to the pod.",
        "Add no capability beyond AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, "
        "NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT.",
        docker="remove the other `--cap-add` flags", compose="remove the others from `cap_add:`",
        podman="remove the other `--cap-add` flags",
        kubernetes="remove the others from `securityContext.capabilities.add`"),
    "pss-caps-restricted": Guidance(
        MEDIUM, "The restricted level drops every capability but NET_BIND_SERVICE: a process that holds "
                "none has nothing of root's to misuse.",
        "Drop ALL capabilities; add back NET_BIND_SERVICE only if it binds a low port.",
        docker="`--cap-drop=ALL`", compose="`cap_drop: [ALL]`", podman="`--cap-drop=all`",
        kubernetes="`securityContext.capabilities: {drop: [ALL]}`"),
    "pss-host-path": Guidance(
        HIGH, "A hostPath volume hands the pod a piece of the node's filesystem; the baseline forbids "
              "every one, whatever it holds.",
        "Use an emptyDir, a configMap, a secret or a claim instead of the host's directory.",
        docker="replace the bind (`-v /host/dir:/dir`) with a named volume",
        compose="replace the bind under `volumes:` with a named volume",
        podman="replace the bind with a named volume",
        kubernetes="remove the `hostPath` volume"),
    "pss-volume-types": Guidance(
        MEDIUM, "The restricted level allows only volumes the cluster manages (configMap, csi, downwardAPI, "
                "emptyDir, ephemeral, persistentVolumeClaim, projected, secret).",
        "Replace any other volume with one of those types.",
        docker="use named volumes or tmpfs, not binds", compose="use named volumes, not binds",
        podman="use named volumes, not binds",
        kubernetes="replace the volume with a persistentVolumeClaim, an emptyDir or a projected one"),
    "pss-host-ports": Guidance(
        MEDIUM, "A host port binds the node's own address: the pod is reachable past the cluster's network "
                "policy and collides with the node's services.",
        "Publish it through a Service instead of a host port.",
        docker="remove `-p`/`-P`", compose="remove `ports:`", podman="remove `-p`/`-P`",
        kubernetes="remove `hostPort` from `ports:`; use a Service"),
    "pss-sysctls": Guidance(
        HIGH, "A sysctl outside the safe set changes the node's kernel for every pod, or turns off a "
              "protection.",
        "Set only the safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, …).",
        docker="remove the other `--sysctl` flags", compose="remove the others from `sysctls:`",
        podman="remove the other `--sysctl` flags",
        kubernetes="remove the others from `securityContext.sysctls`"),
    "pss-seccomp": Guidance(
        HIGH, "A seccomp profile set to Unconfined lets every system call reach the node's kernel; the "
              "baseline forbids it (and allows leaving it unset).",
        "Set the runtime's default profile, or leave it unset.",
        docker="remove `--security-opt seccomp=unconfined`", compose="remove `seccomp:unconfined`",
        podman="remove `--security-opt seccomp=unconfined`",
        kubernetes="`securityContext.seccompProfile.type: RuntimeDefault`"),
    "pss-seccomp-restricted": Guidance(
        HIGH, "The restricted level names a seccomp profile for every container, so none runs without "
              "a filter.",
        "Set the runtime's default profile or one of the node's own.",
        docker="keep the default profile (no `seccomp=unconfined`)", compose="no `seccomp:unconfined`",
        podman="keep the default profile",
        kubernetes="`securityContext.seccompProfile.type: RuntimeDefault` (or `Localhost`)"),
    "pss-apparmor": Guidance(
        MEDIUM, "AppArmor set to Unconfined lifts the profile that confines the pod's files and mounts.",
        "Leave AppArmor at the runtime's default profile, or name one of the node's.",
        docker="remove `--security-opt apparmor=unconfined`", compose="remove `apparmor:unconfined`",
        podman="remove `--security-opt apparmor=unconfined`",
        kubernetes="remove `appArmorProfile.type: Unconfined` (or set `RuntimeDefault`)"),
    "pss-selinux": Guidance(
        MEDIUM, "An SELinux user, role or type of one's own (spc_t) can lift the label that confines the pod.",
        "Leave SELinux at the runtime's type; set only a level.",
        docker="remove `--security-opt label=...` but `label=level:`", compose="remove `label:` entries",
        podman="remove `--security-opt label=...` but `label=level:`",
        kubernetes="remove `seLinuxOptions` but `level`"),
    "drift": Guidance(
        LOW, "Where the kernel shows something other than what the configuration declares, the "
             "configuration is no evidence: something changed the container after it started.",
        "Find what changed it (a process joining other namespaces, a runtime hook), then recreate it "
        "from its declared configuration."),
}
