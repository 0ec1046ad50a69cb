# shellcheck shell=sh
# The functions behind one container's readings (the readings themselves are in
# facts.py, framed into `container_view` by observe.py). All are the host's own tools:
# files under /proc/PID read by the host, namespaces entered only to run the host's
# `ip` and `hostname`, its / and /dev listed through /proc/PID/root without following
# a link. Nothing of the container's is executed, loaded or followed with more
# privilege than its own processes have; the engine's exec (read_inside) runs its own
# binaries confined as the container is.
# Set before these run: $pid, $engine, $id and $rootfs (the container's main process, its
# engine, full ID and root filesystem as the engine mounts it on the host, "-" for a bare
# process), iso_timeout, iso_inside_limit, iso_inside_script, iso_anchor (anchor.py),
# iso_prober_uid, and the host's cgroup mount points cg_memory cg_pids cg_cpu cg_devices
# cg_unified.
# shellcheck disable=SC2154,SC2034 # set around these functions, and read by the readings

# start_time: when $pid started (clock ticks after boot): a reused PID shows another.
start_time() {
    stat_line=$(dump "/proc/$pid/stat") || return 1
    # shellcheck disable=SC2086 # the fields after the command name are numbers
    set -- ${stat_line##*) }
    echo "${20}"
}

# belongs: the kernel names the container's ID in its process's cgroup path, or its
# parent is the engine's shim or conmon: a process rooted at the host's / (no container's)
# whose command line names the ID.
belongs() {
    case $(dump "/proc/$pid/cgroup") in *"$id"*) return 0 ;; esac
    parent=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status")
    # shellcheck disable=SC3013 # -ef: dash, bash and busybox sh all have it
    [ "/proc/$parent/root" -ef /proc/self/root ] || return 1
    case $(tr '\0' ' ' <"/proc/$parent/cmdline") in *"$id"*) return 0 ;; esac
    return 1
}

# read_locate: the PID, once the kernel shows it is the container's; sets $located, and
# $root_pid: a process at the root of its mount namespace, through which the host reads the
# namespace whole — the main process itself, unless it stands elsewhere (a chroot hides
# every mount outside its new root), then an anchor (anchor.py) of the host's python3.
read_locate() {
    case $pid in '' | *[!0-9]*) echo "no process"; return 1 ;; esac
    started=$(start_time) || { echo "no process $pid"; return 1; }
    if [ "$id" != - ] && ! belongs; then
        echo "process $pid is not container $id's: neither its cgroup nor its parent names it"
        return 1
    fi
    # An unprivileged prober (a rootless engine's user) may enter only the namespaces its
    # user namespace owns: the container's user namespace first. Root enters none of it.
    enter_user=
    # shellcheck disable=SC3013 # -ef: dash, bash and busybox sh all have it
    if [ "$iso_prober_uid" != 0 ] && ! [ "/proc/$pid/ns/user" -ef /proc/self/ns/user ]; then
        enter_user=-U
    fi
    root_pid=$pid
    # shellcheck disable=SC3013
    if [ "$rootfs" = - ] || ! [ "/proc/$pid/root" -ef "$rootfs" ]; then
        root_pid=$(python3 -c "$iso_anchor" "$pid" 2>/dev/null) || root_pid=-
    fi
    located=1
    echo "$pid $started $root_pid"
}

# read_devices: the device nodes under its /dev (at its namespace's root, and at its main
# process's root where that is elsewhere), type and numbers from the host's stat;
# find does not follow links (a /dev that is a link to the host's lists nothing). stat
# also gives the filesystem each node is on: one that is not the container's mount there
# was reached through a link swapped in while it was listed. At most 200 nodes, each
# line cut at 512 bytes, names escaped; "more N" counts the rest.
read_devices() {
    set -- "/proc/$root_pid/root/dev"
    [ "$root_pid" = "$pid" ] || set -- "$@" "/proc/$pid/root/dev"
    QUOTING_STYLE=escape find "$@" \( -type b -o -type c \) \
        -exec stat -c '%d %t %T %f %N' {} + 2>/dev/null |
        awk 'NR <= 200 { print substr($0, 1, 512) } END { if (NR > 200) print "more", NR - 200 }'
}

# read_cgroups: the limit files of each of its cgroups, read in the host's cgroup
# filesystem, as "FILE VALUE" lines; a limit file the cgroup lacks limits nothing.
limit_files() {
    dir=$1
    shift
    [ -d "$dir" ] || return 0
    echo "dir $dir"
    for file; do
        if [ -r "$dir/$file" ]; then
            while IFS= read -r value || [ -n "$value" ]; do printf '%s %s\n' "$file" "$value"; done <"$dir/$file"
        elif [ "$file" != devices.list ] && [ "$file" != cpu.cfs_period_us ]; then
            echo "$file max"
        fi
    done
}
read_cgroups() {
    while IFS=: read -r _ controllers path; do
        case ",$controllers," in
        *,memory,*) [ -z "$cg_memory" ] || limit_files "$cg_memory$path" memory.limit_in_bytes ;;
        *,pids,*) [ -z "$cg_pids" ] || limit_files "$cg_pids$path" pids.max ;;
        *,cpu,*) [ -z "$cg_cpu" ] || limit_files "$cg_cpu$path" cpu.cfs_quota_us cpu.cfs_period_us cpu.shares ;;
        *,devices,*) [ -z "$cg_devices" ] || limit_files "$cg_devices$path" devices.list ;;
        ,,) [ -z "$cg_unified" ] || limit_files "$cg_unified$path" memory.max pids.max cpu.max cpu.weight ;;
        esac
    done <"/proc/$pid/cgroup"
}

# read_inside: the lesson's commands run by the container's own shell through the
# engine's exec, which keeps the container's capabilities, seccomp filter, LSM label and
# cgroup; cut and base64-encoded, so nothing it prints can pass for a marker.
read_inside() {
    [ "$engine" != - ] || return 0
    printf '%s' "$iso_inside_script" |
        timeout -k 2 "$iso_timeout" "$engine" exec -i "$id" sh -s 2>&1 |
        head -c "$iso_inside_limit" | base64 -w0
}

# read_end: whether $pid is still the process that was located; the anchor is let go.
read_end() {
    [ "$root_pid" = "$pid" ] || [ "$root_pid" = - ] || kill "$root_pid"
    if [ "$(start_time)" = "$started" ]; then echo same; else echo "gone or replaced"; return 1; fi
}
