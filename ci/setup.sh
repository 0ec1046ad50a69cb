#!/bin/sh
# Idempotent set-up of a Debian/Ubuntu machine for isoverify, run as root:
# a Docker engine that answers, a virtualenv with the suite installed, and a
# busybox image (pulled where a registry answers, else built offline).
# Every step checks first and does nothing when its work is already done, so
# running it again is cheap; the Vagrantfile's provisioner runs it too.
#   ci/setup.sh             what the suite needs
#   ci/setup.sh --selftest  and what the project's own tests need
set -eu
SELFTEST=false
[ "${1:-}" = --selftest ] && SELFTEST=true

REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
VENV=${ISOVERIFY_VENV:-$REPO/.venv}
IMAGE=${ISOVERIFY_IMAGE:-busybox:latest}
DOCKERD_LOG=${ISOVERIFY_DOCKERD_LOG:-/var/log/isoverify-dockerd.log}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0): it installs packages and starts dockerd"

apt_install() {
    # Install only the packages that are missing; never upgrade others.
    missing=
    for pkg in "$@"; do
        dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing="$missing $pkg"
    done
    [ -n "$missing" ] || return 0
    say "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || say "apt-get update failed; trying the cached package lists"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

engine_answers() { docker info >/dev/null 2>&1; }

ensure_engine() {
    if engine_answers; then return 0; fi
    command -v dockerd >/dev/null 2>&1 || apt_install docker.io
    command -v docker >/dev/null 2>&1 || apt_install docker.io
    if ! engine_answers; then
        # No init system to ask on minimal machines and containers: start the
        # daemon ourselves, detached, and remember its PID for whoever stops it.
        say "starting dockerd (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
        echo $! >/run/isoverify-dockerd.pid
        waited=0
        until engine_answers; do
            [ "$waited" -lt 90 ] || die "dockerd did not answer within 90 s; see $DOCKERD_LOG"
            sleep 1
            waited=$((waited + 1))
        done
        say "dockerd answers after ${waited}s"
    fi
}

ensure_venv() {
    stamp="$VENV/.isoverify-requirements"
    requirements="$REPO/requirements.txt"
    $SELFTEST && requirements="$requirements $REPO/requirements-dev.txt"
    # shellcheck disable=SC2086
    wanted=$(cat $requirements "$REPO/pyproject.toml" | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/pytest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        return 0
    fi
    python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || {
        apt_install python3-venv && python3 -m venv "$VENV"
    }
    say "installing requirements into $VENV"
    log="$VENV/pip.log"
    # A machine with no package index (the offline lab VM) installs from wheels
    # downloaded beside the repo: `pip download -r requirements.txt setuptools -d wheelhouse`.
    offline=
    [ -d "$REPO/wheelhouse" ] && offline="--no-index --find-links $REPO/wheelhouse"
    # shellcheck disable=SC2086,SC2046 # one word per option and per requirements file
    { "$VENV/bin/pip" install --disable-pip-version-check $offline $(printf -- '-r %s ' $requirements) &&
      "$VENV/bin/pip" install --disable-pip-version-check $offline --no-deps -e "$REPO"; } >"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "pip failed; full log in $log"; }
    echo "$wanted" >"$stamp"
}

build_busybox_offline() {
    # A busybox image from Debian's busybox-static: the binary, one symlink
    # per applet, and the few /etc files `id` and `ps` read.
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
        mkdir -p "$work/pkg/bin" && cp /bin/busybox "$work/pkg/bin/busybox"  # no archive needed
    else
        (cd "$work" && apt-get download busybox-static >/dev/null 2>&1) || {
            apt-get update -qq >/dev/null
            (cd "$work" && apt-get download busybox-static >/dev/null)
        }
        dpkg-deb -x "$work"/busybox-static_*.deb "$work/pkg"
    fi
    root="$work/rootfs"
    mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/proc" \
        "$root/sys" "$root/dev" "$root/home" "$root/var"
    chmod 1777 "$root/tmp"
    cp "$work/pkg/bin/busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        # A link named busybox would overwrite the binary itself.
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import --change 'CMD ["sh"]' - "$IMAGE" >/dev/null
    rm -rf "$work"
    trap - EXIT
}

ensure_image() {
    docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
    say "pulling $IMAGE"
    if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then return 0; fi
    say "no registry answers: building $IMAGE offline from Debian's busybox-static"
    build_busybox_offline
}

ensure_engine
ensure_venv
ensure_image
if $SELFTEST; then
    # vagrant validates the lab's Vagrantfile, chromium renders the report (poppler-utils'
    # pdftotext reads what it prints), sshd serves
    # a remote test host in a network namespace, podman runs the podman targets (rootless
    # ones through uidmap, for a user the tests reach with sudo), gcc builds the trap
    # containers' static helper, shellcheck reads the probe's shell, containerd and
    # containernetworking-plugins run pods through a private containerd's CRI (tests/e2e).
    apt_install vagrant chromium chromium-driver poppler-utils openssh-server podman uidmap sudo gcc libc6-dev \
        shellcheck containerd containernetworking-plugins
fi
say "ready: engine $(docker version -f '{{.Server.Version}}'), image $IMAGE, venv $VENV"
