"""Three checks of a project's own, written as ordinary pytest tests with the fixtures.

Each is a property of the run (`iso_property`): a row of the report beside the
catalogue, a record of the JSON, gated and waivable like the catalogue's own. Each
also shows how far its evidence reaches: no-sshd looks for port 22 and a process
named sshd (a shell served on another port is not an SSH server); no-privileged-ports
reads what the engine publishes for this container (one sharing another's network, or
the host's, publishes nothing of its own: the catalogue's `net` judges that); the
shadow check asks the container's own `stat`, whose answer is the container's word.
"""

import pytest


@pytest.mark.iso_property(
    "no-sshd", "No SSH server runs inside", controls=["CIS 5.7"], severity="medium",
    rationale="An SSH server inside is a way in that bypasses the engine's exec and its audit, with keys to manage.",
    remediation={"action": "Do not run sshd in the container; use `docker exec` to reach it.",
                 "docker": "build the image without openssh-server", "kubernetes": "use `kubectl exec`"})
def test_no_ssh_server_inside(iso_container):
    # The kernel's word, read on the host: nothing listens on port 22 in its network namespace,
    # and none of its processes is sshd (names as the host's /proc shows them).
    ports = iso_container.fact("listening_ports")
    assert 22 not in ports, f"expected nothing listening on port 22, found listening ports {ports}"
    processes = [iso_container.facts, *(iso_container.facts.others() or [])]
    names = sorted({str(p.outside["status"].value.get("Name")) for p in processes})
    assert "sshd" not in names, f"expected no sshd among its processes, found {', '.join(names)}"


@pytest.mark.iso_property("no-privileged-ports", "No privileged host port is published to it",
                          controls=["CIS 5.8"])
def test_no_privileged_host_port(iso_host, iso_container):
    # What the engine publishes (its word: the engine is trusted), and whether the host
    # really listens there.
    bindings = ((iso_container.facts.declared or {}).get("HostConfig") or {}).get("PortBindings") or {}
    published = sorted({(b.get("HostIp") or "0.0.0.0", int(b["HostPort"]))
                        for targets in bindings.values() for b in (targets or []) if b.get("HostPort")})
    privileged = [(address, port) for address, port in published if port < 1024]
    listening = [(address, port) for address, port in privileged
                 if iso_host.socket(f"tcp://{address}:{port}").is_listening]
    assert not privileged, (f"expected no host port below 1024 published, found {privileged} "
                            f"(listening now: {listening})")


@pytest.mark.iso_property("shadow-not-world-readable", "Password hashes are not readable by every user",
                          controls=["NIST 4.1.2"], profile="baseline")
def test_shadow_is_not_world_readable(iso_container):
    # The container's own files, read by its own stat through the engine's exec; a world-readable
    # /etc/shadow is a configuration defect of its image (NIST SP 800-190 4.1.2).
    shadow = iso_container.file("/etc/shadow")
    if shadow.exists:
        assert not shadow.mode & 0o004, f"expected /etc/shadow unreadable by others, found mode {shadow.mode:o}"
