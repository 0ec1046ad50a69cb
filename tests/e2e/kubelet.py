"""A kubelet's part, played for the project's tests: a Kubernetes pod in, CRI calls out.

`run_pod` takes a pod as a user writes it (YAML or its dict) and makes the
calls a kubelet makes for it: RunPodSandbox with the pod's Linux options and
namespace modes, then each init container created, started and waited for
(in order, each to exit 0), then each container created and started. Only
the fields the tests use are translated; any other field is refused, so a
test never believes it asked for something the runtime was never told.
Every pod carries the suite's labels, and `remove_pods` removes only pods
that carry them.
"""

import os
import re
import socket
import stat
import time
import uuid
from dataclasses import dataclass, field

import yaml

from isoverify.collect.cri import api_pb2 as api
from isoverify.collect.cri.client import CriClient

SUITE_LABEL = ("io.isoverify.suite", "selftest")
# The labels a kubelet puts on each container (types.KubernetesPodNameLabel, …).
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"

_POD_FIELDS = {"hostPID", "hostNetwork", "hostIPC", "shareProcessNamespace", "securityContext",
               "volumes", "containers", "initContainers"}
# Said to the scheduler, the API server or the kubelet's own bookkeeping, never to the runtime.
_NOT_THE_RUNTIMES = {"nodeName", "tolerations", "restartPolicy", "automountServiceAccountToken"}
_CONTAINER_FIELDS = {"name", "image", "command", "args", "env", "volumeMounts", "ports", "securityContext"}
_SECURITY_FIELDS = {"runAsUser", "runAsGroup", "runAsNonRoot", "privileged", "capabilities",
                    "allowPrivilegeEscalation", "readOnlyRootFilesystem", "seccompProfile",
                    "appArmorProfile", "procMount", "seLinuxOptions"}
_PROFILES = {"RuntimeDefault": api.SecurityProfile.RuntimeDefault, "Unconfined": api.SecurityProfile.Unconfined,
             "Localhost": api.SecurityProfile.Localhost}
_PROTOCOLS = {"TCP": api.TCP, "UDP": api.UDP, "SCTP": api.SCTP}
# The paths a kubelet asks the runtime to mask and to make read-only for each procMount
# (securitycontext.ConvertToRuntimeMaskedPaths, ConvertToRuntimeReadonlyPaths): a runtime masks
# only what it is asked to. Unmasked asks for none (the API server lets only a pod in a user
# namespace ask for it, which this stand-in, like a kubelet, does not check).
_PROC_MOUNTS = {
    "Default": (["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                 "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                 "/sys/devices/virtual/powercap"],
                ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]),
    "Unmasked": ([], []),
}


@dataclass
class RunningPod:
    sandbox_id: str
    uid: str
    namespace: str
    name: str
    # container name -> the runtime's container ID, init containers included
    container_ids: dict[str, str] = field(default_factory=dict)


def run_pod(client: CriClient, pod: dict | str, labels: dict[str, str], cgroup_parent: str,
            log_directory: str, pods_directory: str, init_seconds: float = 30.0) -> RunningPod:
    """Start `pod` as a kubelet would, labelled with `labels` and the suite's label; its
    volumes other than hostPath are directories under `pods_directory`, as a kubelet's."""
    if isinstance(pod, str):
        pod = yaml.safe_load(pod)
    metadata, spec = pod["metadata"], pod["spec"]
    _refuse_unknown("spec", spec, _POD_FIELDS | _NOT_THE_RUNTIMES)
    uid = str(uuid.uuid4())
    pod_labels = {**metadata.get("labels", {}), **labels, SUITE_LABEL[0]: SUITE_LABEL[1]}
    sandbox_config = _sandbox_config(metadata, spec, uid, pod_labels, cgroup_parent, log_directory)
    sandbox_id = client.call("RunPodSandbox", api.RunPodSandboxRequest(config=sandbox_config)).pod_sandbox_id
    running = RunningPod(sandbox_id, uid, sandbox_config.metadata.namespace, sandbox_config.metadata.name)
    volumes = {volume["name"]: _volume_path(volume, pods_directory, uid) for volume in spec.get("volumes", [])}
    kubelet_labels = {POD_NAME: running.name, POD_NAMESPACE: running.namespace, POD_UID: uid}
    for init in spec.get("initContainers", []):
        container_id = _start(client, running, sandbox_config, spec, init, volumes, kubelet_labels, pod_labels)
        _wait_exit_zero(client, container_id, init["name"], init_seconds)
    for container in spec["containers"]:
        _start(client, running, sandbox_config, spec, container, volumes, kubelet_labels, pod_labels)
    return running


def remove_pods(client: CriClient, labels: dict[str, str]) -> list[str]:
    """Stop and remove every pod sandbox carrying `labels` and the suite's label; their IDs."""
    selector = {**labels, SUITE_LABEL[0]: SUITE_LABEL[1]}
    request = api.ListPodSandboxRequest(filter=api.PodSandboxFilter(label_selector=selector))
    removed = []
    for sandbox in client.call("ListPodSandbox", request).items:
        client.call("StopPodSandbox", api.StopPodSandboxRequest(pod_sandbox_id=sandbox.id))
        client.call("RemovePodSandbox", api.RemovePodSandboxRequest(pod_sandbox_id=sandbox.id))
        removed.append(sandbox.id)
    return removed


def _refuse_unknown(where: str, given: dict, known: set[str]) -> None:
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"{where}: this kubelet stand-in does not translate {sorted(unknown)}")


def _sandbox_config(metadata: dict, spec: dict, uid: str, labels: dict[str, str], cgroup_parent: str,
                    log_directory: str) -> api.PodSandboxConfig:
    pod_security = spec.get("securityContext", {})
    _refuse_unknown("spec.securityContext", pod_security, _SECURITY_FIELDS | {"supplementalGroups", "sysctls"})
    host_network = spec.get("hostNetwork", False)
    context = api.LinuxSandboxSecurityContext(
        namespace_options=_namespaces(spec),
        privileged=any(_security(spec, c).get("privileged", False) for c in _all_containers(spec)))
    _user_and_group(context, pod_security)
    if "seccompProfile" in pod_security:
        context.seccomp.CopyFrom(_profile(pod_security["seccompProfile"]))
    ports = [api.PortMapping(protocol=_PROTOCOLS[port.get("protocol", "TCP")],
                             container_port=port["containerPort"], host_port=port.get("hostPort", 0),
                             host_ip=port.get("hostIP", ""))
             for container in spec["containers"] for port in container.get("ports", [])]
    return api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=metadata["name"], namespace=metadata.get("namespace", "default"),
                                        uid=uid, attempt=0),
        # A kubelet leaves the hostname empty for a pod on the node's network:
        # a sandbox cannot set one without a UTS namespace of its own.
        hostname="" if host_network else metadata["name"],
        log_directory=log_directory, port_mappings=ports, labels=labels,
        annotations=metadata.get("annotations", {}),
        linux=api.LinuxPodSandboxConfig(cgroup_parent=f"{cgroup_parent}/pod{uid}", security_context=context,
                                        sysctls={s["name"]: str(s["value"]) for s in pod_security.get("sysctls", [])}))


def _all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def _namespaces(spec: dict) -> api.NamespaceOption:
    """The namespace modes a kubelet derives from the pod (kuberuntime's namespacesForPod)."""
    def mode(host: bool) -> int:
        return api.NODE if host else api.POD
    pid = api.NODE if spec.get("hostPID") else (api.POD if spec.get("shareProcessNamespace") else api.CONTAINER)
    return api.NamespaceOption(network=mode(spec.get("hostNetwork", False)), pid=pid,
                               ipc=mode(spec.get("hostIPC", False)))


def _security(spec: dict, container: dict) -> dict:
    """A container's effective securityContext: the pod's fields, overridden by the container's."""
    container_security = container.get("securityContext", {})
    _refuse_unknown(f"container {container['name']} securityContext", container_security, _SECURITY_FIELDS)
    pod_security = {key: value for key, value in spec.get("securityContext", {}).items()
                    if key in {"runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "appArmorProfile",
                               "seLinuxOptions"}}
    return {**pod_security, **container_security}


def _user_and_group(context, security: dict) -> None:
    if "runAsUser" in security:
        context.run_as_user.value = security["runAsUser"]
    if "runAsGroup" in security:
        context.run_as_group.value = security["runAsGroup"]


def _profile(profile: dict) -> api.SecurityProfile:
    kind = profile["type"]
    return api.SecurityProfile(profile_type=_PROFILES[kind],
                               localhost_ref=profile.get("localhostProfile", "") if kind == "Localhost" else "")


def _container_config(spec: dict, container: dict, volumes: dict, labels: dict[str, str],
                      sandbox_config: api.PodSandboxConfig) -> api.ContainerConfig:
    _refuse_unknown(f"container {container['name']}", container, _CONTAINER_FIELDS)
    security = _security(spec, container)
    proc_mount = security.get("procMount", "Default")
    if proc_mount not in _PROC_MOUNTS:
        raise ValueError(f"container {container['name']}: procMount {proc_mount}: Default or Unmasked")
    if security.get("runAsNonRoot") and security.get("runAsUser", 0) == 0:
        # The kubelet's check: an image's user is not known here, so the uid must be given.
        raise ValueError(f"container {container['name']}: runAsNonRoot needs a non-zero runAsUser")
    capabilities = security.get("capabilities", {})
    context = api.LinuxContainerSecurityContext(
        capabilities=api.Capability(add_capabilities=capabilities.get("add", []),
                                    drop_capabilities=capabilities.get("drop", [])),
        privileged=security.get("privileged", False),
        namespace_options=_namespaces(spec),
        readonly_rootfs=security.get("readOnlyRootFilesystem", False),
        # allowPrivilegeEscalation defaults to true; false is no_new_privs.
        no_new_privs=security.get("allowPrivilegeEscalation", True) is False,
        masked_paths=_PROC_MOUNTS[proc_mount][0], readonly_paths=_PROC_MOUNTS[proc_mount][1])
    _user_and_group(context, security)
    if "seccompProfile" in security:
        context.seccomp.CopyFrom(_profile(security["seccompProfile"]))
    if "appArmorProfile" in security:
        context.apparmor.CopyFrom(_profile(security["appArmorProfile"]))
    if "seLinuxOptions" in security:
        context.selinux_options.CopyFrom(api.SELinuxOption(**security["seLinuxOptions"]))
    mounts = [api.Mount(container_path=mount["mountPath"], host_path=volumes[mount["name"]],
                        readonly=mount.get("readOnly", False))
              for mount in container.get("volumeMounts", [])]
    name = container["name"]
    env = _environment(container)
    return api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name, attempt=0), image=api.ImageSpec(image=container["image"]),
        command=[_expand(word, env) for word in container.get("command", [])],
        args=[_expand(word, env) for word in container.get("args", [])], mounts=mounts,
        envs=[api.KeyValue(key=key, value=value) for key, value in env.items()],
        labels={**labels, CONTAINER_NAME: name}, log_path=f"{name}/0.log",
        linux=api.LinuxContainerConfig(security_context=context))


# The directory a kubelet makes for each volume type it keeps under the pod's own directory,
# by the plugin's name (pkg/volume: kubernetes.io~empty-dir, …); the stand-in makes it empty.
_PLUGIN_DIRECTORIES = {"emptyDir": "empty-dir", "gitRepo": "git-repo"}


def _volume_path(volume: dict, pods_directory: str, uid: str) -> str:
    """The host path a volume is mounted from: a hostPath's own, or the directory a kubelet
    makes for it under the pod's (PODS/UID/volumes/kubernetes.io~PLUGIN/NAME)."""
    kinds = set(volume) - {"name"}
    if kinds == {"hostPath"}:
        return _host_path(volume)
    if len(kinds) != 1 or not kinds <= set(_PLUGIN_DIRECTORIES):
        raise ValueError(f"volume {volume['name']}: only hostPath, emptyDir and gitRepo volumes are translated")
    path = os.path.join(pods_directory, uid, "volumes", f"kubernetes.io~{_PLUGIN_DIRECTORIES[kinds.pop()]}",
                        volume["name"])
    os.makedirs(path)
    return path


def _host_path(volume: dict) -> str:
    """A hostPath volume's path, checked or made as the kubelet does for its `type`."""
    path, kind = volume["hostPath"]["path"], volume["hostPath"].get("type", "")
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "Socket" and not stat.S_ISSOCK(os.stat(path).st_mode):
        raise ValueError(f"volume {volume['name']}: {path} is not a socket")
    elif kind not in ("", "DirectoryOrCreate", "Socket"):
        raise ValueError(f"volume {volume['name']}: hostPath type {kind} is not translated")
    return path


def _environment(container: dict) -> dict[str, str]:
    """A container's variables: values as given, and the node's name where the downward API asks it."""
    env = {}
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if source == "spec.nodeName":
            env[variable["name"]] = socket.gethostname()
        elif source is None and "value" in variable:
            env[variable["name"]] = _expand(variable["value"], env)
        else:
            raise ValueError(f"container {container['name']}: variable {variable['name']} is not translated")
    return env


def _expand(word: str, env: dict[str, str]) -> str:
    """$(NAME) replaced by a variable's value as a kubelet does; an unknown one, and $$(NAME), kept."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda found: "$" if found.group(0) == "$$" else env.get(found.group(1), found.group(0)), word)


def _start(client: CriClient, running: RunningPod, sandbox_config, spec: dict, container: dict, volumes: dict,
           kubelet_labels: dict[str, str], pod_labels: dict[str, str]) -> str:
    config = _container_config(spec, container, volumes, {**pod_labels, **kubelet_labels}, sandbox_config)
    request = api.CreateContainerRequest(pod_sandbox_id=running.sandbox_id, config=config,
                                         sandbox_config=sandbox_config)
    container_id = client.call("CreateContainer", request).container_id
    client.call("StartContainer", api.StartContainerRequest(container_id=container_id))
    running.container_ids[container["name"]] = container_id
    return container_id


def _wait_exit_zero(client: CriClient, container_id: str, name: str, seconds: float) -> None:
    """Wait for an init container to exit, as a kubelet does before the next one; 0 or an error."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.call("ContainerStatus", api.ContainerStatusRequest(container_id=container_id)).status
        if status.state == api.CONTAINER_EXITED:
            if status.exit_code != 0:
                raise RuntimeError(f"init container {name} exited {status.exit_code}: {status.reason}")
            return
        time.sleep(0.1)
    raise TimeoutError(f"init container {name} still runs after {seconds:g} s")
