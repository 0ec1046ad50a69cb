"""A namespace of its own, by /proc/<pid>/ns/* inode: the check of the namespaces the
lesson does not show, and of every other process's for those it does."""

from isoverify.judge.checks.base import Finding, namespaces
from isoverify.model import ContainerFacts, HostFacts

WHAT_IT_ISOLATES = {
    "pid": "the processes it can see and signal",
    "net": "its interfaces, ports and routes",
    "uts": "its hostname",
    "ipc": "System V IPC objects and POSIX message queues",
    "cgroup": "the cgroup tree it sees",
    "mnt": "the mounts it sees",
    "time": "its boot and monotonic clocks",
}


def namespace_check(kind: str):
    """A check that holds when the container has a `kind` namespace of its own."""

    def check(host: HostFacts, ctr: ContainerFacts) -> Finding:
        h, c, h_ev, c_ev = namespaces(kind, host, ctr)
        what = WHAT_IT_ISOLATES[kind]
        summary = (f"its own {kind} namespace {c}, so {what}: not the host's"
                   if h != c else f"it shares the host's {kind} namespace {h}, so {what}: the host's")
        return Finding(h != c, summary, (h_ev,), (c_ev,))

    check.__name__ = f"check_{kind}"
    return check
