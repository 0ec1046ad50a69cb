#!/bin/sh
# The main job: set the machine up (idempotent), then verify isolation and
# write reports/isolation.{html,xml,json}. Arguments go to pytest, e.g.
#   sudo ci/verify.sh --iso-container docker://web
set -eu
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
"$REPO/ci/setup.sh"
cd "$REPO"
exec "$REPO/.venv/bin/pytest" "$@"
