"""Pods held up on this node until its stdin ends, for a run from another machine to judge
through cri:// (test_lab_vm.py judges the lab VM's through vagrant://). Prints one JSON line
once they run: the private containerd's socket and each pod's UID and container IDs. Then,
at the end of its stdin, the pods are removed and the containerd stopped, as after a session.

    python3 cri_hold.py NAMESPACE '{"NAME": "POD YAML", ...}'
"""

import json
import sys

# The selftests' conftest first: it names the session the runtime is named after, and imports cri_rig last.
import conftest  # noqa: F401

# isort: split
from cri_rig import private_runtime


def main() -> None:
    namespace, pods = sys.argv[1], json.loads(sys.argv[2])
    with private_runtime() as runtime:
        running = runtime.run_pods(pods, namespace)
        print(json.dumps({"socket": runtime.socket,
                          "pods": {name: {"uid": pod.uid, "containers": pod.container_ids}
                                   for name, pod in running.items()}}), flush=True)
        sys.stdin.read()
    print("removed", flush=True)


if __name__ == "__main__":
    main()
