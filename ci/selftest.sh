#!/bin/sh
# The project's own tests: set the machine up for them (idempotent), check what CI ships
# (ruff, shellcheck on every shell program, mypy on the typed stages, the import
# contracts between the stages), then run them: unit tests, then real containers.
# Arguments go to pytest.
set -eu
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
"$REPO/ci/setup.sh" --selftest
cd "$REPO"
BIN=$REPO/.venv/bin
"$BIN/ruff" check isoverify tests bench examples
shellcheck --shell=sh isoverify/collect/shell/*.sh
shellcheck ci/*.sh tests/e2e/helpers/*.sh
"$BIN/mypy"
"$BIN/lint-imports"
exec "$BIN/pytest" tests "$@"
