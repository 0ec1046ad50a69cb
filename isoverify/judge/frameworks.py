"""Every item of the frameworks the catalogue cites, evidenced or not, with a short title.

The report's control view lists each item: those the suite evidences with
their verdicts, the others as not evidenced, so that coverage reads honestly.
Titles are short paraphrases; the standards' own texts are the reference.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str  # as a Control names it (properties.base.Control.framework)
    scope: str  # the part of the standard these items are
    items: tuple[tuple[str, str], ...]  # (item ID, short title), in the standard's order

    def control(self, item: str) -> str:
        """The control as records name it (str(Control))."""
        return f"{self.name} {item}"


CIS_DOCKER = Framework("CIS Docker Benchmark v1.6.0", "section 5, container runtime", (
    ("5.1", "Swarm mode off unless it is needed"),
    ("5.2", "An AppArmor profile confines each container"),
    ("5.3", "SELinux options are set where SELinux is used"),
    ("5.4", "Kernel capabilities are restricted"),
    ("5.5", "No privileged containers"),
    ("5.6", "No sensitive host directories mounted"),
    ("5.7", "No ssh server inside containers"),
    ("5.8", "No privileged ports mapped"),
    ("5.9", "Only the ports needed are open"),
    ("5.10", "The host's network namespace is not shared"),
    ("5.11", "Memory is limited"),
    ("5.12", "CPU shares are set on purpose"),
    ("5.13", "The root filesystem is read-only"),
    ("5.14", "Incoming traffic is bound to a chosen host interface"),
    ("5.15", "The on-failure restart policy stops after 5 tries"),
    ("5.16", "The host's PID namespace is not shared"),
    ("5.17", "The host's IPC namespace is not shared"),
    ("5.18", "Host devices are not exposed"),
    ("5.19", "Default ulimits are overridden only where needed"),
    ("5.20", "Mount propagation is not shared"),
    ("5.21", "The host's UTS namespace is not shared"),
    ("5.22", "The default seccomp profile is not disabled"),
    ("5.23", "docker exec is not run with --privileged"),
    ("5.24", "docker exec is not run as root"),
    ("5.25", "Cgroup use is as configured"),
    ("5.26", "No gaining privileges (no-new-privileges)"),
    ("5.27", "Container health is checked at runtime"),
    ("5.28", "Images are used at their current version"),
    ("5.29", "The PIDs cgroup limit is set"),
    ("5.30", "The default docker0 bridge is not used"),
    ("5.31", "The host's user namespace is not shared"),
    ("5.32", "The Docker socket is not mounted in containers"),
))

NIST_800_190 = Framework("NIST SP 800-190", "section 4, major risks", (
    ("4.1.1", "Vulnerabilities in images"),
    ("4.1.2", "Configuration defects in images"),
    ("4.1.3", "Malware embedded in images"),
    ("4.1.4", "Secrets embedded in images in clear text"),
    ("4.1.5", "Images from untrusted sources"),
    ("4.2.1", "Insecure connections to registries"),
    ("4.2.2", "Stale images in registries"),
    ("4.2.3", "Weak authentication and authorization at registries"),
    ("4.3.1", "Unbounded administrative access to the orchestrator"),
    ("4.3.2", "Unauthorized access to the orchestrator"),
    ("4.3.3", "Traffic between containers poorly separated"),
    ("4.3.4", "Workloads of different sensitivity mixed"),
    ("4.3.5", "Trust in orchestrator nodes"),
    ("4.4.1", "Vulnerabilities in the runtime software"),
    ("4.4.2", "Unbounded network access from containers"),
    ("4.4.3", "Insecure container runtime configuration"),
    ("4.4.4", "Vulnerabilities in the applications"),
    ("4.4.5", "Rogue containers"),
    ("4.5.1", "A large host OS attack surface"),
    ("4.5.2", "A kernel shared by all containers"),
    ("4.5.3", "Vulnerabilities in host OS components"),
    ("4.5.4", "Improper user access rights on the host"),
    ("4.5.5", "Tampering with the host OS file system"),
))

POD_SECURITY = Framework("Pod Security Standards", "Baseline and Restricted controls, by pod field", (
    ("HostProcess", "No Windows HostProcess containers"),
    ("hostNetwork", "The host's network namespace is not shared"),
    ("hostPID", "The host's PID namespace is not shared"),
    ("hostIPC", "The host's IPC namespace is not shared"),
    ("privileged", "No privileged containers"),
    ("capabilities", "No capabilities beyond the allowed set"),
    ("hostPath volumes", "No hostPath volumes"),
    ("hostPorts", "No host ports, or only known ones"),
    ("AppArmor", "AppArmor not turned off"),
    ("SELinux", "No custom SELinux user or role"),
    ("procMount", "The default /proc mount (masked paths kept)"),
    ("seccompProfile", "A seccomp profile is set"),
    ("sysctls", "Only safe sysctls"),
    ("volume types", "Only the volume types allowed"),
    ("allowPrivilegeEscalation", "No privilege escalation"),
    ("runAsNonRoot", "Containers run as a non-root user"),
    ("runAsUser", "Not run as uid 0"),
))

FRAMEWORKS = (CIS_DOCKER, NIST_800_190, POD_SECURITY)  # in the order reports show them
