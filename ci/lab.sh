#!/bin/bash
# The lesson's lab VM on a machine with no Vagrant Cloud and no usable KVM:
# a small Debian box built here, libvirt started by hand, and the repo's own
# Vagrantfile brought up on it under QEMU software emulation. The VM has no
# network but QEMU's restricted user-mode NIC: the only way in is ssh through
# 127.0.0.1:$ISOVERIFY_SSH_PORT, and the guest can reach nothing outside.
# Idempotent, as root:
#   ci/lab.sh box       build the box once (cached by recipe hash) and add it to Vagrant
#   ci/lab.sh libvirt   install libvirt, QEMU and vagrant-libvirt; start libvirtd
#   ci/lab.sh wheelhouse  download the wheels the offline guest installs from (repo's wheelhouse/)
#   ci/lab.sh env       print the Vagrantfile's overrides: eval "$(ci/lab.sh env)"
#   ci/lab.sh up        all of the above, then `vagrant up` (ISOVERIFY_SSH_PORT, default 2222)
#   ci/lab.sh destroy   `vagrant destroy -f`
#   ci/lab.sh stop      stop the libvirtd this script started (by its recorded PID)
set -euo pipefail

REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
CACHE=/var/cache/isoverify
LOG=/var/log/isoverify-lab.log
LIBVIRTD_LOG=/var/log/isoverify-libvirtd.log
LIBVIRTD_PID=/run/isoverify-libvirtd.pid
CONSOLE_LOG=/var/log/isoverify-lab-console.log
BOX_NAME=isoverify/debian-12
SSH_PORT=${ISOVERIFY_SSH_PORT:-2222}
MIRROR=${ISOVERIFY_MIRROR:-http://deb.debian.org/debian}

# The recipe: what goes into the box. Its hash names the cache entry, so a
# change here (or in build_rootfs) builds a new box and an unchanged one is reused.
SUITE=bookworm
PACKAGES="systemd-sysv udev dbus openssh-server iproute2 procps kmod e2fsprogs
  linux-image-amd64 docker.io apparmor busybox-static python3 python3-venv rsync sudo
  containerd containernetworking-plugins"
DISK_GB=6
CMDLINE="root=/dev/vda rw console=ttyS0 net.ifnames=0 apparmor=1 security=apparmor quiet"

say() { printf 'lab: %s\n' "$*" | tee -a "$LOG" >&2; }
die() { printf 'lab: error: %s\n' "$*" | tee -a "$LOG" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: it installs packages, builds images and starts libvirtd"
mkdir -p "$(dirname "$LOG")"

installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_install() {
    # Only what is missing, without recommends; never upgrades anything else.
    local missing=() pkg
    for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOG" 2>&1 || say "apt-get update failed; trying the cached package lists"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
        die "apt-get install ${missing[*]} failed; see $LOG"
}

progress_free() { sed -u 's/\r/\n/g' | grep --line-buffered -v 'Progress: '; }

vagrant_env() {
    # Vagrant never phones home here, and picks libvirt without being told.
    export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt
}

# --- the box -----------------------------------------------------------------

build_rootfs() {
    # A minimal bookworm that boots with systemd, takes root's key over ssh on
    # 10.0.2.15 (QEMU user-mode networking) and has no route nor DNS server.
    local root=$1 pubkey=$2
    # shellcheck disable=SC2086
    debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ,)" "$SUITE" "$root" "$MIRROR" \
        >>"$LOG" 2>&1 || die "debootstrap failed; see $LOG"
    install -d -m 700 "$root/root/.ssh"
    install -m 600 "$pubkey" "$root/root/.ssh/authorized_keys"
    echo isoverify-lab >"$root/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 isoverify-lab\n' >"$root/etc/hosts"
    printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
    printf '# no DNS: the lab VM reaches nothing outside\n' >"$root/etc/resolv.conf"
    printf '[Match]\nName=eth0\n\n[Network]\nAddress=10.0.2.15/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
        >"$root/etc/systemd/network/10-lab.network"
    chroot "$root" systemctl enable systemd-networkd.service >>"$LOG" 2>&1
    # Nothing to wait for at boot: no online check, no periodic jobs.
    chroot "$root" systemctl disable systemd-networkd-wait-online.service apt-daily.timer \
        apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >>"$LOG" 2>&1 || true
    # Byte-compiling a venv's thousands of files takes minutes under software
    # emulation; Python compiles what it imports anyway.
    printf '[install]\ncompile = no\n' >"$root/etc/pip.conf"
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
}

recipe_hash() {
    # shellcheck disable=SC2086 # one word per package, as every cached box was hashed
    { echo "$SUITE $DISK_GB $CMDLINE"; echo $PACKAGES; declare -f build_rootfs; } | sha256sum | cut -c1-16
}

BOX_DIR=$CACHE/box-$(recipe_hash)

build_box() {
    # Built in a scratch directory and renamed when complete: a cache entry is whole or absent.
    local work=$BOX_DIR.work
    rm -rf "$work" && mkdir -p "$work"
    rm -f "$CACHE/box-added"  # a new box (and key) to add to Vagrant
    apt_install debootstrap qemu-utils e2fsprogs openssh-client
    say "building the box in $BOX_DIR (debootstrap of $SUITE, a few minutes; log: $LOG)"
    ssh-keygen -q -t ed25519 -N '' -C isoverify-lab -f "$work/id_ed25519"
    build_rootfs "$work/rootfs" "$work/id_ed25519.pub"
    # Direct kernel boot: the kernel and initrd stay on the host, beside the box.
    # shellcheck disable=SC2012 # Debian's kernel file names: versions, no odd characters
    cp "$(ls "$work"/rootfs/boot/vmlinuz-* | sort -V | tail -1)" "$work/vmlinuz"
    # shellcheck disable=SC2012
    cp "$(ls "$work"/rootfs/boot/initrd.img-* | sort -V | tail -1)" "$work/initrd.img"
    truncate -s "${DISK_GB}G" "$work/root.img"
    mkfs.ext4 -q -F -L lab-root -d "$work/rootfs" "$work/root.img" >>"$LOG" 2>&1
    rm -rf "$work/rootfs"
    mkdir "$work/box"
    qemu-img convert -O qcow2 "$work/root.img" "$work/box/box.img"
    rm -f "$work/root.img"
    printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d}\n' "$DISK_GB" >"$work/box/metadata.json"
    tar -C "$work/box" -cf "$work/lab.box" metadata.json box.img
    rm -rf "$work/box"
    mv "$work" "$BOX_DIR"
    # Boxes of older recipes are never used again.
    find "$CACHE" -maxdepth 1 -name 'box-*' ! -path "$BOX_DIR" -exec rm -rf {} +
}

cmd_box() {
    local started=$SECONDS
    if [ -f "$BOX_DIR/lab.box" ]; then
        say "reusing the cached box $BOX_DIR"
    else
        build_box
        say "box built in $((SECONDS - started)) s"
    fi
    apt_install vagrant
    vagrant_env
    # The box under its fixed name is this recipe's, or it is replaced.
    if [ "$(cat "$CACHE/box-added" 2>/dev/null)" != "$BOX_DIR" ] ||
        ! vagrant box list 2>/dev/null | grep -q "^$BOX_NAME "; then
        say "adding the box to Vagrant as $BOX_NAME"
        vagrant box add --force --name "$BOX_NAME" "$BOX_DIR/lab.box" 2>&1 | progress_free >>"$LOG" ||
            die "vagrant box add failed; see $LOG"
        echo "$BOX_DIR" >"$CACHE/box-added"
        forget_old_volumes
    fi
}

forget_old_volumes() {
    # vagrant-libvirt copies a box into libvirt's pool once per box file, named
    # after the file's mtime; the copies of replaced boxes would only take space.
    libvirt_answers || return 0
    local volume escaped=${BOX_NAME//\//-VAGRANTSLASH-} current
    current=$(stat -c %Y "${VAGRANT_HOME:-$HOME/.vagrant.d}/boxes/$escaped/0/libvirt/box.img" 2>/dev/null) || current=
    for volume in $(virsh -c qemu:///system vol-list default 2>/dev/null | awk 'NR > 2 {print $1}'); do
        case $volume in
            "${escaped}_vagrant_box_image_0_${current}_box.img") ;;
            "${escaped}_vagrant_box_image_"*)
                virsh -c qemu:///system vol-delete --pool default "$volume" >>"$LOG" 2>&1 || true ;;
        esac
    done
}

# --- libvirt -----------------------------------------------------------------

set_conf() {
    # set_conf FILE KEY VALUE...: our settings in one marked block at the end,
    # any active line for the same keys commented out.
    local file=$1 block="# isoverify lab: begin"
    shift
    sed -i '/^# isoverify lab: begin/,/^# isoverify lab: end/d' "$file"
    while [ $# -ge 2 ]; do
        sed -Ei "s/^($1[[:space:]]*=)/#\1/" "$file"
        block="$block
$1 = $2"
        shift 2
    done
    printf '%s\n# isoverify lab: end\n' "$block" >>"$file"
}

libvirt_answers() { virsh -c qemu:///system version >/dev/null 2>&1; }

cmd_libvirt() {
    # The sysv flavour: the systemd one would pull an upgrade of systemd itself.
    apt_install libvirt-daemon-system libvirt-daemon-system-sysv qemu-system-x86 qemu-utils vagrant vagrant-libvirt
    command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 after installing qemu-system-x86"
    # libvirt's default network is a NAT to the world (192.168.122.0/24 on virbr0,
    # iptables rules): the lab never uses it, so it must not start with libvirtd.
    rm -f /etc/libvirt/qemu/networks/autostart/default.xml
    getent group kvm >/dev/null || groupadd --system kvm
    getent passwd libvirt-qemu >/dev/null ||
        useradd --system --no-create-home --home-dir /var/lib/libvirt --gid kvm --shell /usr/sbin/nologin libvirt-qemu
    # No systemd, no security module and no cgroup delegation here: QEMU runs
    # as root, unconfined, and writes its output to a plain file.
    set_conf /etc/libvirt/qemu.conf user '"root"' group '"root"' security_driver '"none"' \
        cgroup_controllers '[ ]' stdio_handler '"file"'
    if ! libvirt_answers; then
        say "starting libvirtd (log: $LIBVIRTD_LOG)"
        setsid /usr/sbin/libvirtd >>"$LIBVIRTD_LOG" 2>&1 </dev/null &
        echo $! >"$LIBVIRTD_PID"
        local waited=0
        until libvirt_answers; do
            [ $waited -lt 30 ] || die "libvirtd did not answer within 30 s; see $LIBVIRTD_LOG"
            sleep 1
            waited=$((waited + 1))
        done
    fi
    if virsh -c qemu:///system net-list --name 2>/dev/null | grep -qx default; then
        die "libvirt's default NAT network is active: stop it (virsh net-destroy default); the lab never uses it"
    fi
    forget_old_volumes
    say "libvirtd answers ($(virsh -c qemu:///system version --daemon 2>/dev/null | awk '/daemon/ {print $NF}'))"
}

cmd_stop() {
    local pid waited=0
    pid=$(cat "$LIBVIRTD_PID" 2>/dev/null) || { say "no libvirtd started by this script"; return 0; }
    rm -f "$LIBVIRTD_PID"
    # Only if that PID is still the libvirtd we started, not a reused number.
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] || return 0
    kill "$pid"
    while [ -e "/proc/$pid" ] && [ $waited -lt 30 ]; do sleep 0.5; waited=$((waited + 1)); done
    say "stopped libvirtd ($pid)"
}

# --- the VM ------------------------------------------------------------------

cmd_env() {
    [ -f "$BOX_DIR/lab.box" ] || die "no box built for this recipe: run ci/lab.sh box"
    cat <<EOF
export ISOVERIFY_BOX='$BOX_NAME'
export ISOVERIFY_GUEST='debian'
export ISOVERIFY_LIBVIRT_DRIVER='qemu'
export ISOVERIFY_KERNEL='$BOX_DIR/vmlinuz'
export ISOVERIFY_INITRD='$BOX_DIR/initrd.img'
export ISOVERIFY_CMDLINE='$CMDLINE'
export ISOVERIFY_SSH_KEY='$BOX_DIR/id_ed25519'
export ISOVERIFY_SSH_PORT='$SSH_PORT'
export ISOVERIFY_CONSOLE_LOG='$CONSOLE_LOG'
export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt
EOF
}

cmd_wheelhouse() {
    # The guest has no package index: ci/setup.sh installs from the repo's wheelhouse/.
    local stamp=$REPO/wheelhouse/.requirements wanted pip=python3
    wanted=$(sha256sum <"$REPO/requirements.txt" | cut -d' ' -f1)
    [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] && return 0
    [ -x "$REPO/.venv/bin/python" ] && pip=$REPO/.venv/bin/python
    say "downloading wheels for the guest into $REPO/wheelhouse"
    # Wheels for this Python: the guest's is bookworm's 3.11, as on a Debian 12 host.
    "$pip" -m pip download --disable-pip-version-check -q -r "$REPO/requirements.txt" setuptools \
        -d "$REPO/wheelhouse" >>"$LOG" 2>&1 || die "pip download failed; see $LOG"
    echo "$wanted" >"$stamp"
}

cmd_up() {
    cmd_box
    cmd_libvirt
    cmd_wheelhouse
    vagrant_env
    eval "$(cmd_env)"
    say "vagrant up (software emulation: a few minutes; console: $CONSOLE_LOG)"
    local started=$SECONDS
    (cd "$REPO" && vagrant up --provider=libvirt) 2>&1 | progress_free | tee -a "$LOG" ||
        die "vagrant up failed; see $LOG and $CONSOLE_LOG"
    say "up in $((SECONDS - started)) s: eval \"\$(sudo ci/lab.sh env)\"; vagrant ssh"
}

cmd_destroy() {
    [ -f "$BOX_DIR/lab.box" ] || { say "no box, so no VM"; return 0; }
    libvirt_answers || cmd_libvirt  # vagrant asks libvirt what exists
    eval "$(cmd_env)"
    (cd "$REPO" && vagrant destroy -f) 2>&1 | tee -a "$LOG"
}

case ${1:-} in
    box) cmd_box ;;
    libvirt) cmd_libvirt ;;
    env) cmd_env ;;
    wheelhouse) cmd_wheelhouse ;;
    up) cmd_up ;;
    destroy) cmd_destroy ;;
    stop) cmd_stop ;;
    *) grep '^#   ci/lab.sh' "$0" >&2; exit 2 ;;
esac
