"""A project's own checks beside the catalogue: a fact of its own, read in the suite's probe.

`pytest_isoverify_container_facts` adds the fact to the one batched probe per host:
its command runs on the host, in a shell started for each container, with `$pid`
the container's main process as the host numbers it and `$members` its other ones.
That shell sees the host's files: the fact reaches the container through those
processes' /proc entries (one reading the host's own files would say so, `reads_host=True`).
"""

from isoverify import Fact


class ListeningPorts(Fact):
    """The TCP ports listened on in the network namespaces of the container's processes, as
    the kernel lists them in /proc/PID/net/tcp{,6} (read on the host: the container cannot
    forge it). `$members` are its other processes: one may stand in a namespace of its own."""

    label = "the TCP sockets listening in its processes' network namespaces (/proc/PID/net/tcp, tcp6)"

    def __init__(self):
        super().__init__('for p in $pid $members; do cat "/proc/$p/net/tcp" "/proc/$p/net/tcp6" 2>/dev/null; done')

    def parse(self, text: str) -> list[int]:
        ports = set()
        for line in text.splitlines():
            fields = line.split()
            # sl local_address rem_address st ...; 0A is TCP_LISTEN
            if len(fields) > 3 and fields[0] != "sl" and fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return sorted(ports)


def pytest_isoverify_container_facts(config):
    return {"listening_ports": ListeningPorts()}
