"""The CRI client's parts that need no runtime: its protocol code, its parsing, its errors."""

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from isoverify.collect.cri import CriClient, CriError, find_socket
from isoverify.collect.cri import api_pb2 as api
from isoverify.collect.cri.client import _ran_first, declared_spec, parse_info

REPO = Path(__file__).resolve().parents[3]
GENERATED = ("api_pb2.py", "api_pb2.pyi", "api_pb2_grpc.py")


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None,
                    reason="grpcio-tools is not installed: pip install -r requirements-dev.txt")
def test_checked_in_protocol_code_matches_a_fresh_generation(tmp_path):
    subprocess.run([str(REPO / "ci/gen-cri.sh"), str(tmp_path)],
                   env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    for name in GENERATED:
        fresh = (tmp_path / "isoverify/collect/cri" / name).read_text()
        assert fresh == (REPO / "isoverify/collect/cri" / name).read_text(), f"{name}: run ci/gen-cri.sh"


def _status(container_id, name, created, state=api.CONTAINER_RUNNING, finished=0, exit_code=0):
    return api.ContainerStatus(id=container_id, metadata=api.ContainerMetadata(name=name), created_at=created,
                               state=state, finished_at=finished, exit_code=exit_code)


def test_init_containers_are_those_that_finished_before_the_rest_were_created():
    statuses = [
        _status("app", "app", created=50),
        _status("init-2", "second", created=20, state=api.CONTAINER_EXITED, finished=30),
        _status("init-1", "first", created=10, state=api.CONTAINER_EXITED, finished=15),
    ]
    assert _ran_first(statuses) == {"init-1", "init-2"}


@pytest.mark.parametrize("statuses", [
    # exited while its sibling already ran: a regular container that stopped
    [_status("a", "a", created=10, state=api.CONTAINER_EXITED, finished=30), _status("b", "b", created=20)],
    # exited non-zero: a kubelet would not have gone on
    [_status("a", "a", created=10, state=api.CONTAINER_EXITED, finished=15, exit_code=1),
     _status("b", "b", created=20)],
    # a restart of a regular container: the same name comes back
    [_status("a0", "a", created=10, state=api.CONTAINER_EXITED, finished=15), _status("a1", "a", created=20)],
    # nothing came after it
    [_status("a", "a", created=10, state=api.CONTAINER_EXITED, finished=15)],
], ids=["overlapped", "failed", "restarted", "alone"])
def test_an_exited_regular_container_is_never_called_init(statuses):
    assert _ran_first(statuses) == set()


def test_verbose_info_that_is_not_a_json_object_says_why():
    assert parse_info({}) == ({}, "the runtime gave no verbose info")
    assert parse_info({"info": "{"})[1].startswith("the runtime's verbose info is not JSON")
    assert parse_info({"info": "[1]"}) == ({}, "the runtime's verbose info is not a JSON object")
    assert parse_info({"info": json.dumps({"pid": 7})}) == ({"pid": 7}, "")


def test_declared_spec_reads_a_malformed_spec_as_absent():
    spec = declared_spec({"process": {"capabilities": {"bounding": ["CAP_CHOWN", 5], "effective": "CAP_X"},
                                      "user": {"uid": True, "gid": 10}, "noNewPrivileges": "yes"},
                          "linux": {"namespaces": [{"type": "pid"}, "net"], "seccomp": None},
                          "mounts": {"destination": "/"}})
    assert spec.capabilities["bounding"] == {"CAP_CHOWN"} and spec.capabilities["effective"] == frozenset()
    assert (spec.uid, spec.gid, spec.no_new_privileges, spec.seccomp) == (None, 10, False, None)
    assert spec.namespaces == {"pid": ""} and spec.mounts == ()


def test_no_socket_names_the_fix(tmp_path):
    with pytest.raises(CriError, match=r"no CRI runtime socket at .*nothing.sock: .*\?socket=PATH"):
        CriClient(str(tmp_path / "nothing.sock"))
    with pytest.raises(CriError, match=r"no CRI runtime socket at .*a.sock or .*b.sock"):
        find_socket((str(tmp_path / "a.sock"), str(tmp_path / "b.sock")))
    (tmp_path / "file").write_text("")
    with pytest.raises(CriError, match="is not a unix socket"):
        CriClient(str(tmp_path / "file"))


def _listening(path: Path, answer: bytes | None) -> socket.socket:
    """A plain unix socket server: it sends `answer` and hangs up, or with None says nothing."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    held = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            if answer is None:
                held.append(connection)
            else:
                connection.sendall(answer)
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_socket_that_is_not_grpc_is_one_line(tmp_path):
    server = _listening(tmp_path / "smtp.sock", b"220 mail ready\r\n")
    try:
        with CriClient(str(tmp_path / "smtp.sock"), call_seconds=3) as client, pytest.raises(CriError) as error:
            client.version()
    finally:
        server.close()
    message = str(error.value)
    assert "\n" not in message and "is down or does not speak gRPC" in message and "?socket=PATH" in message


def test_a_silent_socket_is_a_deadline_not_a_hang(tmp_path):
    server = _listening(tmp_path / "silent.sock", None)
    started = time.monotonic()
    try:
        with CriClient(str(tmp_path / "silent.sock"), call_seconds=0.5) as client, pytest.raises(CriError) as error:
            client.pod_containers()
    finally:
        server.close()
    assert time.monotonic() - started < 3
    assert "did not answer Version within 0.5 s" in str(error.value)


def test_a_socket_nobody_listens_on_is_down(tmp_path):
    path = tmp_path / "stale.sock"
    _listening(path, b"").close()  # the file stays, the listener is gone
    with CriClient(str(path), call_seconds=2) as client, pytest.raises(CriError, match="is down"):
        client.version()


def test_a_grpc_server_without_the_cri_is_one_line(tmp_path):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_insecure_port(f"unix://{tmp_path}/grpc.sock")
    server.start()
    try:
        with CriClient(str(tmp_path / "grpc.sock"), call_seconds=3) as client, pytest.raises(CriError) as error:
            client.version()
    finally:
        server.stop(None)
    assert "answers gRPC but not the CRI runtime.v1 Version" in str(error.value) and "\n" not in str(error.value)


def test_an_answer_too_large_is_refused_in_one_line(tmp_path):
    """Thousands of pods: the list answer is bounded, not read whole."""
    class Huge(grpc.GenericRpcHandler):
        def service(self, details):
            def listed(request, context):
                pods = [api.PodSandbox(id=f"{i:064d}", labels={"filler": "x" * 200}) for i in range(5000)]
                return api.ListPodSandboxResponse(items=pods).SerializeToString()

            def version(request, context):
                return api.VersionResponse(runtime_name="fake").SerializeToString()
            handlers = {"/runtime.v1.RuntimeService/ListPodSandbox": listed,
                        "/runtime.v1.RuntimeService/Version": version}
            if details.method in handlers:
                return grpc.unary_unary_rpc_method_handler(handlers[details.method])
            return None

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[Huge()])
    server.add_insecure_port(f"unix://{tmp_path}/big.sock")
    server.start()
    try:
        with CriClient(str(tmp_path / "big.sock"), call_seconds=5, max_answer_bytes=1024 * 1024) as client, \
                pytest.raises(CriError) as error:
            client.pod_containers()
    finally:
        server.stop(None)
    assert "answered ListPodSandbox with more than 1 MiB" in str(error.value) and "?namespace=" in str(error.value)
