#!/bin/sh
# The project's own tests: set the machine up for them (idempotent), then run
# them on real containers. Arguments go to pytest.
set -eu
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
"$REPO/ci/setup.sh" --selftest
cd "$REPO"
exec "$REPO/.venv/bin/pytest" selftests "$@"
