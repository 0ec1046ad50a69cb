# shellcheck shell=sh
# The functions behind one container's readings (the readings themselves are in
# facts.py, framed into `container_view` by observe.py). All are the host's own tools:
# files under /proc/PID read by the host, namespaces entered only to run the host's
# `ip` and `hostname`, its / and /dev listed through /proc/PID/root without following
# a link. Nothing of the container's is executed, loaded or followed with more
# privilege than its own processes have; the engine's exec (read_inside) runs its own
# binaries confined as the container is.
# Set before these run: $pid, $engine and $id (the container's main process, its engine
# and full ID, "-" for a bare process), iso_timeout, iso_inside_limit, iso_inside_script,
# ISOVERIFY_MINE (see read_locate), iso_prober_uid, and the host's cgroup mount points
# cg_memory cg_pids cg_cpu cg_devices cg_unified.
# shellcheck disable=SC2154,SC2034 # set around these functions, and read by the readings
# shellcheck disable=SC3013 # test -ef: dash, bash and busybox sh all have it

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
    [ "/proc/$parent/root" -ef /proc/self/root ] || return 1
    case $(tr '\0' ' ' <"/proc/$parent/cmdline") in *"$id"*) return 0 ;; esac
    return 1
}

# read_locate: the PID, once the kernel shows it is the container's. Sets $located,
# $members (its other processes) and $anchored ("PROCESS:ANCHOR" words, from the
# "members" and "anchor" lines handed over as ISOVERIFY_MINE: an anchor at the root of
# each mount namespace among its processes, through which the host reads the namespace
# whole, see anchors.py), and $root_pid, the main process's anchor ("-": none there).
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
    if [ "$iso_prober_uid" != 0 ] && ! [ "/proc/$pid/ns/user" -ef /proc/self/ns/user ]; then
        enter_user=-U
    fi
    members='' anchored='' unread=''
    while read -r kind _ rest; do
        case $kind in
        members) members=$rest ;;
        unread) unread=$rest ;;
        anchor) anchored="$anchored ${rest% *}:${rest#* }" ;;
        esac
    done <<EOF
$ISOVERIFY_MINE
EOF
    anchor_of "$pid"
    root_pid=$anchor
    located=1
    echo "$pid $started $root_pid"
}

# anchor_of PID: sets $anchor, the anchor standing at the root of PID's mount namespace ("-": none).
anchor_of() {
    anchor=-
    for pair in $anchored; do
        case $pair in "$1:"*) anchor=${pair#*:} ;; esac
    done
}

# read_mounts: every view of its mounts, each after a "view KIND PID" line: at the root of
# each of its mount namespaces (an anchor), and at the root of each of its processes that
# stands elsewhere. Sets $views, the PIDs whose roots those are.
read_mounts() {
    views=
    # more processes than anchors.py examines: the mounts of the rest are not seen
    [ -z "$unread" ] || echo "unread $unread"
    for pair in $anchored; do
        case " $views " in *" ${pair#*:} "*) continue ;; esac
        views="$views ${pair#*:}"
        echo "view anchor ${pair#*:}"
        dump "/proc/${pair#*:}/mountinfo"
    done
    for process in $pid $members; do
        anchor_of "$process"
        if [ "$anchor" != - ] && ! [ "/proc/$process/root" -ef "/proc/$anchor/root" ] && ! seen_root "$process"; then
            views="$views $process"
            echo "view process $process"
            dump "/proc/$process/mountinfo"
        fi
    done
}

# seen_root PID: whether PID's root is one of $views' already.
seen_root() {
    for view in $views; do
        [ "/proc/$1/root" -ef "/proc/$view/root" ] && return 0
    done
    return 1
}

# read_members: what the kernel says of each of its other processes: status, namespaces,
# root, uid map and security label, each line led by the file it came from.
read_members() {
    [ -z "$unread" ] || echo "unread $unread"
    [ -n "$members" ] || return 0
    for member in $members; do printf '/proc/%s/status\n' "$member"; done |
        xargs grep -H -E '^(Name|Uid|Gid|NSpid|Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp|Seccomp_filters|NoNewPrivs):' 2>/dev/null
    for member in $members; do printf '%s\n' "/proc/$member/ns/"*; done | xargs stat -c '%N' 2>/dev/null
    for member in $members; do printf '/proc/%s/root/\n' "$member"; done | xargs stat -L -c 'root %d:%i %n' 2>/dev/null
    for member in $members; do printf '/proc/%s/uid_map\n' "$member"; done | xargs grep -H '' 2>/dev/null
    for member in $members; do printf '/proc/%s/attr/current\n' "$member"; done | xargs grep -H '' 2>/dev/null
    true
}

# read_devices: the device nodes under its /dev, and under every other mount of the host's
# devtmpfs, at the root of each of its views (see read_mounts), type, numbers, owner and
# mode from the host's stat;
# find does not follow links (a /dev that is a link to the host's lists nothing). stat
# also gives the filesystem each node is on: one that is not the container's mount there
# was reached through a link swapped in while it was listed. At most 200 nodes, each
# line cut at 512 bytes, names escaped; "more N" counts the rest.
read_devices() {
    set --
    for view in $views; do
        set -- "$@" "/proc/$view/root/dev"
        # and wherever a piece of the host's /dev is mounted: a node bound over a file, or
        # the host's /dev itself at /hostdev (names with escapes are left to host-mounts)
        # shellcheck disable=SC2013 # mount points without escapes hold no blanks
        for point in $(awk '{ for (i = 7; $i != "-"; i++)
            if ($(i + 1) == "devtmpfs" && $5 !~ /\\/ && $5 !~ /^\/dev(\/|$)/) print $5 }' "/proc/$view/mountinfo"); do
            set -- "$@" "/proc/$view/root$point"
        done
    done
    [ $# -gt 0 ] || return 0
    # Every entry but directories is stat'ed: find's own -type reads the directory's word
    # for it, which for a node bound over a placeholder file says "file". The hex mode
    # (%f) of a character device starts with 2, of a block device with 6.
    QUOTING_STYLE=escape find "$@" ! -type d -exec stat -c '%d %u %g %t %T %f %N' {} + 2>/dev/null |
        awk '$6 !~ /^[26]...$/ { next } ++n <= 200 { print substr($0, 1, 512) }
             END { if (n > 200) print "more", n - 200 }'
}

# read_cgroups: the limit files of each of its cgroups and of every cgroup above it up to
# the hierarchy's root (a limit set higher up bounds it too), read in the host's cgroup
# filesystem: "own DIR" or "parent DIR", then "FILE VALUE" lines; a limit file a cgroup
# lacks limits nothing.
limit_files() {
    dir=$1
    shift
    [ -d "$dir" ] || return 0
    for file; do
        if [ -r "$dir/$file" ]; then
            while IFS= read -r value || [ -n "$value" ]; do printf '%s %s\n' "$file" "$value"; done <"$dir/$file"
        elif [ "$file" != devices.list ] && [ "$file" != cpu.cfs_period_us ] && [ "$file" != cpu.weight ] &&
            [ "$file" != cpu.shares ]; then
            echo "$file max"
        fi
    done
}
limits_up() {
    root=$1 dir=$1${2%/}
    shift 2
    [ -d "$dir" ] || return 0
    echo "own $dir"
    limit_files "$dir" "$@"
    while [ "$dir" != "$root" ] && [ "${dir#"$root"/}" != "$dir" ]; do
        dir=${dir%/*}
        echo "parent $dir"
        limit_files "$dir" "$@"
    done
}
read_cgroups() {
    while IFS=: read -r _ controllers path; do
        case ",$controllers," in
        *,memory,*) [ -z "$cg_memory" ] || limits_up "$cg_memory" "$path" memory.limit_in_bytes ;;
        *,pids,*) [ -z "$cg_pids" ] || limits_up "$cg_pids" "$path" pids.max ;;
        *,cpu,*) [ -z "$cg_cpu" ] || limits_up "$cg_cpu" "$path" cpu.cfs_quota_us cpu.cfs_period_us cpu.shares ;;
        *,devices,*) [ -z "$cg_devices" ] || { echo "own $cg_devices$path"; limit_files "$cg_devices$path" devices.list; } ;;
        ,,) [ -z "$cg_unified" ] || limits_up "$cg_unified" "$path" memory.max pids.max cpu.max cpu.weight ;;
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

# read_end: whether $pid is still the process that was located; the anchors are let go.
read_end() {
    for pair in $anchored; do kill "${pair#*:}" 2>/dev/null; done
    if [ "$(start_time)" = "$started" ]; then echo same; else echo "gone or replaced"; return 1; fi
}
