#!/bin/sh
# Regenerates the CRI client's Python modules from isoverify/collect/cri/api.proto
# with the grpcio-tools pinned in requirements-dev.txt. The generated files are
# checked in (with the type stubs mypy reads), so the suite needs only grpcio and
# protobuf at run time.
#   ci/gen-cri.sh [OUTDIR]   OUTDIR: where to write (default: the repo itself)
set -eu
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
OUT=${1:-$REPO}
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import grpc_tools' 2>/dev/null \
    || { echo "gen-cri: no grpcio-tools for $PYTHON: pip install -r requirements-dev.txt" >&2; exit 1; }
mkdir -p "$OUT/isoverify/collect/cri"
# -I at the repo root makes the generated import `from isoverify.collect.cri import api_pb2`.
cd "$REPO"
"$PYTHON" -m grpc_tools.protoc -I . --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
    isoverify/collect/cri/api.proto
