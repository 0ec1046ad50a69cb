#!/bin/sh
# Builds the suite's container image (deploy/kubernetes/Dockerfile) with the local Docker
# engine, as root, after ci/setup.sh. The image's Python packages come from a wheelhouse made
# here (the project and its pinned requirements), so the build itself needs no network. Its
# base is python:3.11-slim-bookworm where a registry has it; else one is made offline from
# Debian's archive (debootstrap: a minimal bookworm with python3), once, and kept.
# An image already built from the same sources is kept as it is.
#   ci/image.sh [TAG]     prints the image's tag
set -eu
REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
VENV=${ISOVERIFY_VENV:-$REPO/.venv}
MIRROR=${ISOVERIFY_MIRROR:-http://deb.debian.org/debian}
LOG=${ISOVERIFY_IMAGE_LOG:-/var/log/isoverify-image.log}
BASE=python:3.11-slim-bookworm
OFFLINE_PACKAGES="python3 python3-venv"
VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("isoverify"))')
TAG=${1:-isoverify:$VERSION}

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: it may install debootstrap and builds with dockerd"
docker info >/dev/null 2>&1 || die "no Docker engine answers: run ci/setup.sh first"

# What goes into the image, hashed: an image labelled with the same hash is up to date.
sources=$(cd "$REPO" && find isoverify -name '*.py' -o -name '*.sh' -o -name '*.css' -o -name '*.json' \
    -o -name '*.proto' | LC_ALL=C sort | xargs cat pyproject.toml requirements.txt \
    deploy/kubernetes/Dockerfile | sha256sum | cut -c1-16)
built=$(docker image inspect -f '{{ index .Config.Labels "io.isoverify.sources" }}' "$TAG" 2>/dev/null || true)
if [ "$built" = "$sources" ]; then
    echo "$TAG"
    exit 0
fi

offline_base() {
    # A minimal bookworm with python3 and venv, made from the apt archive and imported.
    tag="isoverify-base:bookworm-$(echo "$MIRROR $OFFLINE_PACKAGES" | sha256sum | cut -c1-12)"
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        command -v debootstrap >/dev/null 2>&1 || {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
                >>"$LOG" 2>&1 || die "apt-get install debootstrap failed; see $LOG"
        }
        say "no registry has $BASE: making $tag from $MIRROR (debootstrap, a few minutes; log: $LOG)"
        root=$(mktemp -d)
        # shellcheck disable=SC2086 # one package per word
        debootstrap --variant=minbase --include="$(echo $OFFLINE_PACKAGES | tr ' ' ,)" bookworm "$root" \
            "$MIRROR" >>"$LOG" 2>&1 || { rm -rf "$root"; die "debootstrap failed; see $LOG"; }
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -c . | docker import - "$tag" >/dev/null || { rm -rf "$root"; die "docker import failed"; }
        rm -rf "$root"
    fi
    echo "$tag"
}

if docker image inspect "$BASE" >/dev/null 2>&1 || timeout 60 docker pull -q "$BASE" >/dev/null 2>&1; then
    base=$BASE
else
    base=$(offline_base)
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$REPO/deploy/kubernetes/Dockerfile" "$context/"
say "making the wheelhouse (the project and its pinned requirements)"
# built from a copy: a build leaves its directories beside the sources
mkdir "$context/src"
(cd "$REPO" && tar -c --exclude=__pycache__ pyproject.toml README.md isoverify) | tar -C "$context/src" -x
"$VENV/bin/pip" wheel --disable-pip-version-check --quiet --no-deps --wheel-dir "$context/wheelhouse" \
    "$context/src" >>"$LOG" 2>&1 || die "pip wheel failed; see $LOG"
"$VENV/bin/pip" download --disable-pip-version-check --quiet --only-binary=:all: --dest "$context/wheelhouse" \
    -r "$REPO/requirements.txt" >>"$LOG" 2>&1 || die "pip download failed; see $LOG"
say "building $TAG on $base"
docker build --quiet --build-arg "BASE=$base" --label "io.isoverify.sources=$sources" --tag "$TAG" "$context" \
    >>"$LOG" 2>&1 || die "docker build failed; see $LOG"
echo "$TAG"
