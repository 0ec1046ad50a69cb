# shellcheck shell=sh
# The host's side of one batched probe: functions the probe script defines once and
# calls. Every command is the host's own tool in the host's mount namespace; nothing
# of a container's is run, loaded or followed here.
# The probe sets: iso_timeout (seconds one engine call may take), iso_probe_timeout (all of
# it), iso_anchor_program (anchors.py), iso_container_timeout
# (seconds all of one container's readings may take: more than its engine exec's own),
# iso_limit (bytes of one container's readings), iso_section_limit (bytes of one host-wide
# reading), iso_container_functions (the text of container.sh, with its settings).
# shellcheck disable=SC2154 # those are set by the probe around this file

# containers_of ENGINE REF...: each reference resolved as the engine resolves it among
# all its containers — a full ID, else an exact name, else a unique ID prefix — then
# the ones found inspected at once. Prints "ref REF ID|missing|ambiguous ID,ID…" lines,
# then "ID PID {json}" lines, each cut at 64 KiB so that no container's configuration
# floods the probe. Keeps both in $resolved and $inspected_ENGINE for find_container.
containers_of() {
    engine=$1
    shift
    listing=$(timeout "$iso_timeout" "$engine" ps -a --no-trunc --format '{{.ID}} {{.Names}}' 2>&1) || {
        printf '%s\n' "$listing"
        return 1
    }
    found=$(printf '%s\n' "$listing" | awk -v refs="$*" '
        NF >= 1 && $1 ~ /^[0-9a-f]+$/ { n++; id[n] = $1; names[n] = "," $2 "," }
        END {
            count = split(refs, ref, " ")
            for (i = 1; i <= count; i++) {
                r = ref[i]; hit = ""
                for (j = 1; j <= n && hit == ""; j++) if (id[j] == r) hit = id[j]
                for (j = 1; j <= n && hit == ""; j++) if (index(names[j], "," r ",")) hit = id[j]
                if (hit == "") {
                    k = 0; all = ""
                    for (j = 1; j <= n; j++) if (index(id[j], r) == 1) { k++; all = all (k > 1 ? "," : "") id[j] }
                    if (k == 1) hit = all
                    else if (k > 1) { print "ref", r, "ambiguous", all; continue }
                }
                print "ref", r, (hit == "" ? "missing" : hit)
            }
        }')
    printf '%s\n' "$found"
    eval "resolved_$engine=\$found"
    ids=$(printf '%s\n' "$found" | awk '$3 ~ /^[0-9a-f]+$/ { print $3 }' | sort -u)
    [ -n "$ids" ] || return 0
    # Only the fields the suite reads: a container's environment can be megabytes.
    # shellcheck disable=SC2086 # one word per ID
    details=$(timeout "$iso_timeout" "$engine" inspect --type container --format \
        '{{.Id}} {{.State.Pid}} {"Id":"{{.Id}}","Name":{{json .Name}},"Image":{{json .Image}},"Path":{{json .Path}},"Args":{{json .Args}},"State":{{json .State}},"HostConfig":{{json .HostConfig}},"GraphDriver":{{json .GraphDriver}},"AppArmorProfile":{{json .AppArmorProfile}},"ProcessLabel":{{json .ProcessLabel}},"Config":{"User":{{json .Config.User}},"Hostname":{{json .Config.Hostname}},"Labels":{{json .Config.Labels}}}}' \
        $ids 2>&1 | cut -b -65536)
    printf '%s\n' "$details"
    eval "inspected_$engine=\$(printf '%s\n' \"\$details\" | cut -d' ' -f1-2)"
}

# find_container ENGINE REF: sets $id and $pid from what containers_of kept
# ("-" when the reference resolved to no single container, or the engine gave none).
find_container() {
    id=- pid=-
    eval "resolutions=\$resolved_$1 details=\$inspected_$1"
    # shellcheck disable=SC2154 # assigned by the eval above
    saved=$IFS
    IFS='
'
    set -f
    for line in $resolutions; do
        case $line in "ref $2 "*) id=${line#"ref $2 "} ;; esac
    done
    case $id in *[!0-9a-f]*) id=- ;; esac
    for line in $details; do
        case $line in "$id "*) pid=${line#"$id "} ;; esac
    done
    IFS=$saved
    set +f
}

# plant_anchors ENGINE REF ...: each container's processes, the anchors at the roots of
# their mount namespaces, what they hold outside and their seccomp filters (anchors.py),
# for all containers at once — one python3 per host. Keeps them in $iso_anchors, and the
# "members" and "anchor" lines in $iso_members (each container's shell is handed its own:
# all of them could outgrow an environment variable); prints them.
plant_anchors() {
    targets=
    while [ $# -ge 2 ]; do
        if [ "$1" = - ]; then id=- pid=$2; else find_container "$1" "$2"; fi
        case $pid in '' | *[!0-9]*) ;; *) targets="$targets $pid:$id" ;; esac
        shift 2
    done
    iso_anchors=
    for python in /usr/bin/python3 /usr/local/bin/python3 python3; do
        if command -v "$python" >/dev/null; then
            # shellcheck disable=SC2086 # one word per container
            iso_anchors=$("$python" -I -S -c "$iso_anchor_program" "$iso_probe_timeout" $targets 2>&1)
            break
        fi
    done
    # what the containers' shells need of it, kept apart: a few words each, where the
    # filters are kilobytes
    iso_members=$(printf '%s\n' "$iso_anchors" | grep -E '^(members|unread|anchor) ')
    printf '%s\n' "$iso_anchors" | head -c "$((iso_section_limit + 1))"
}

# release_anchors: every anchor planted is let go (a container's shell lets go its own,
# unless it was cut short).
release_anchors() {
    printf '%s\n' "$iso_members" | while read -r kind _ _ anchor; do
        [ "$kind" = anchor ] && kill "$anchor" 2>/dev/null
    done
}

# mount_of CONTROLLER: where the host mounts that cgroup v1 controller ("" for cgroup v2).
mount_of() {
    awk -v c="$1" '{ for (i = 7; $i != "-"; i++); if ((c == "" && $(i + 1) == "cgroup2") ||
        ($(i + 1) == "cgroup" && ("," $NF ",") ~ ("," c ","))) { print $5; exit } }' /proc/self/mountinfo
}

# observe_container ENGINE REF: one container's readings, taken in a shell of its own under
# timeout, cut at iso_limit bytes and base64-encoded: a container whose readings hang or
# flood costs only its own verdicts, and nothing it shows can pass for the framing around it.
observe_container() {
    if [ "$1" = - ]; then id=- pid=$2; else find_container "$1" "$2"; fi
    mine=
    while read -r kind main rest; do
        case $kind in members | unread | anchor) [ "$main" = "$pid" ] && mine="$mine$kind $main $rest
" ;; esac
    done <<EOF
$iso_members
EOF
    # shellcheck disable=SC2016 # expanded by the inner shell
    ISOVERIFY_MINE=$mine ISOVERIFY_VIEW=$iso_container_functions timeout -k 2 "$iso_container_timeout" \
        sh -c 'eval "$ISOVERIFY_VIEW"; container_view "$@"' sh "$pid" "$1" "$id" </dev/null 2>&1 |
        head -c "$iso_limit" | base64 -w0
}

# observe_containers ENGINE REF ...: every container's readings (observe_container), each
# into a file of its own under $iso_views, in one more lane than the host has CPUs (much of
# a container's time is spent waiting for the kernel): lane K reads containers K, K+LANES,
# … one after another, so no lane waits for another's slowest. The container sections
# show them in order (show_container N).
observe_containers() {
    iso_views=$(mktemp -d) || return 1
    lanes=$(($(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1))
    lane=0
    while [ "$lane" -lt "$lanes" ]; do
        observe_lane "$lane" "$lanes" "$@" &
        lane=$((lane + 1))
    done
    wait
}

# observe_lane K LANES ENGINE REF ...: the containers of lane K (see observe_containers).
observe_lane() {
    lane=$1 lanes=$2 number=0
    shift 2
    while [ $# -ge 2 ]; do
        [ $((number % lanes)) -ne "$lane" ] || observe_container "$1" "$2" >"$iso_views/$number"
        number=$((number + 1))
        shift 2
    done
}

# show_container N: the readings of the Nth container, as observe_containers kept them.
show_container() {
    IFS= read -r line <"$iso_views/$1" || [ -n "$line" ] || return 1
    printf '%s' "$line"
}

# release: every anchor planted is let go, and the kept readings removed.
release() {
    release_anchors
    [ -z "${iso_views:-}" ] || rm -rf "$iso_views"
}
