# shellcheck shell=sh
# The host's side of one batched probe: functions the probe script defines once and
# calls. Every command is the host's own tool in the host's mount namespace; nothing
# of a container's is run, loaded or followed here.
# The probe sets: iso_timeout (seconds one engine call may take), iso_probe_timeout (all of
# it), iso_container_timeout (seconds all of one container's readings may take: more than
# its engine exec's own), iso_limit (bytes of one container's readings), iso_inside_limit
# (bytes of what one says through the engine's exec), iso_section_limit (bytes of one
# host-wide reading), iso_view_program (kernel_view.py), iso_readings (the names of its
# readings of each container), iso_container_nonce (what frames them), iso_own_facts (the
# user's own facts, a shell script) and iso_inside_script (the lesson's commands).
# shellcheck disable=SC2154 # those are set by the probe around this file

# containers_of ENGINE REF...: each reference resolved as the engine resolves it among
# all its containers: a full ID, else an exact name, else a unique ID prefix; then
# the ones found inspected at once. Prints "ref REF ID|missing|ambiguous ID,ID,..." lines,
# then "ID PID {json}" lines, each cut at 64 KiB so that no container's configuration
# floods the probe. Keeps both in $resolved and $inspected_ENGINE for find_container.
# References that are all full IDs, each inspected as itself, need no listing.
containers_of() {
    engine=$1
    shift
    details='' inspected=0
    if full_ids "$@"; then
        inspect_containers "$engine" "$@"
        [ "$inspected" -ne 124 ] || { echo "$engine inspect did not answer within ${iso_timeout}s"; return 1; }
    fi
    if [ "$inspected" -eq 0 ] && inspected_as_themselves "$@"; then
        found=$(for ref in "$@"; do echo "ref $ref $ref"; done)
    else
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
        ids=$(printf '%s\n' "$found" | awk '$3 ~ /^[0-9a-f]+$/ { print $3 }' | sort -u)
        details=
        # shellcheck disable=SC2086 # one word per ID
        [ -z "$ids" ] || inspect_containers "$engine" $ids
    fi
    printf '%s\n' "$found"
    eval "resolved_$engine=\$found"
    [ -n "$details" ] || return 0
    printf '%s\n' "$details"
    eval "inspected_$engine=\$(printf '%s\n' \"\$details\" | awk '\$1 ~ /^[0-9a-f]+\$/ && \$2 ~ /^[0-9]+\$/ { print \$1, \$2 }')"
}

# full_ids REF...: whether every reference is a whole container ID (64 hex digits).
full_ids() {
    for ref in "$@"; do
        case $ref in *[!0-9a-f]*) return 1 ;; esac
        [ "${#ref}" -eq 64 ] || return 1
    done
}

# inspected_as_themselves REF...: whether the engine's inspect gave a line for each
# reference as its ID.
inspected_as_themselves() {
    for ref in "$@"; do
        case $details in "$ref "* | *"
$ref "*) ;; *) return 1 ;; esac
    done
}

# inspect_containers ENGINE ID...: each container's "ID PID {json}" line, then "ID image
# IMAGE", then its labels (labels_template); then the labels of each image they run
# (image_labels). What the engine said of any it does not know goes with them into
# $details, its exit status into $inspected. Every line is cut at 64 KiB, and a label's
# key and value at 256 and 1024 characters: no label floods the probe, and none leaves
# the container's configuration unreadable.
inspect_containers() {
    engine=$1
    shift
    # Only the fields the suite reads: a container's environment can be megabytes.
    details=$({
        timeout "$iso_timeout" "$engine" inspect --type container --format \
            '{{.Id}} {{.State.Pid}} {"Id":"{{.Id}}","Name":{{json .Name}},"Image":{{json .Image}},"Path":{{json .Path}},"Args":{{json .Args}},"State":{{json .State}},"HostConfig":{{json .HostConfig}},"GraphDriver":{{json .GraphDriver}},"AppArmorProfile":{{json .AppArmorProfile}},"ProcessLabel":{{json .ProcessLabel}},"Config":{"User":{{json .Config.User}},"Hostname":{{json .Config.Hostname}}}}
{{.Id}} image {{.Image}}
{{.Id}} '"$labels_template" "$@" 2>&1
        echo "inspected $?"
    } | bounded_lines)
    inspected=${details##*inspected }
    details=${details%inspected "$inspected"}
    details=${details%"
"}
    [ "$inspected" -ne 124 ] || return 0
    image_labels "$engine"
}

# The Go template of a container's or an image's labels, after its ID: "labels COUNT",
# then a line "label KEYBYTES VALUEBYTES "KEY" "VALUE"" for each, key and value cut at
# 256 and 1024 characters (their lengths in bytes say what was cut). The label lines
# belong to the "labels" line before them (podman's templates cannot name the ID there).
# shellcheck disable=SC2016 # a Go template, not the shell's
labels_template='labels {{with .Config.Labels}}{{len .}}{{range $key, $value := .}}
label {{len $key}} {{len $value}} {{json (printf "%.256s" $key)}} {{json (printf "%.1024s" $value)}}{{end}}{{else}}0{{end}}'

# image_labels ENGINE: appended to $details, "image IMAGE labels COUNT" and the label
# lines of each image the containers in $details run: the labels its author chose, not
# whoever created the container.
image_labels() {
    images=$(printf '%s\n' "$details" | awk '$2 == "image" && $3 ~ /^(sha256:)?[0-9a-f]+$/ { print $3 }' | sort -u)
    [ -n "$images" ] || return 0
    # shellcheck disable=SC2086 # one word per image ID
    labelled=$(timeout "$iso_timeout" "$1" image inspect --format "image {{.Id}} $labels_template" $images \
        2>/dev/null | bounded_lines)
    details="$details
$labelled"
}

# bounded_lines: each line cut at 64 KiB, and the label lines of one container or image
# beyond 64 KiB left out (its "labels COUNT" says how many it has).
bounded_lines() {
    LC_ALL=C awk '{
        line = substr($0, 1, 65536)
        if ($1 == "label") {
            spent += length(line) + 1
            if (spent > 65536) next
        } else {
            spent = 0
        }
        print line
    }'
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

# start_reading ENGINE REF ...: every container's readings, taken by the host's python3
# ("-" PID for a bare process, "cri" ID:PID:SANDBOX_ID:SANDBOX_PID for a pod's container)
# (kernel_view.py) in the background while the host's own are read, into a file of their
# own under $iso_views, a line per container (show_containers): a container whose
# readings hang or flood costs only its own. What it says itself goes to
# $iso_views/said (containers_read).
start_reading() {
    iso_reader=
    iso_views=$(mktemp -d) || return 1
    targets=
    while [ $# -ge 2 ]; do
        case $1 in
            -) targets="$targets -:-:$2" ;;
            cri) targets="$targets cri:$2" ;;  # its ID:PID:SANDBOX_ID:SANDBOX_PID, as the CRI runtime gave them
            *) find_container "$1" "$2"; targets="$targets $1:$id:$pid" ;;
        esac
        shift 2
    done
    # shellcheck disable=SC2086 # one word per container
    read_containers $targets >"$iso_views/said" 2>&1 &
    iso_reader=$!
}

# read_containers ENGINE:ID:PID ...: kernel_view.py, in place of this shell.
read_containers() {
    for python in /usr/bin/python3 /usr/local/bin/python3 python3; do
        if command -v "$python" >/dev/null; then
            ISOVERIFY_NONCE=$iso_container_nonce ISOVERIFY_OWN=$iso_own_facts ISOVERIFY_INSIDE=$iso_inside_script \
                exec "$python" -I -S -c "$iso_view_program" "$iso_probe_timeout" "$iso_timeout" \
                "$iso_container_timeout" "$iso_limit" "$iso_inside_limit" "$iso_views" "$iso_readings" "$@"
        fi
    done
    echo "no python3 on the host to read its containers with"
    return 1
}

# containers_read: how reading the containers went, once it is done.
containers_read() {
    [ -n "$iso_reader" ] || { echo "no directory for the containers' readings (mktemp)"; return 1; }
    wait "$iso_reader"
    status=$?
    cat "$iso_views/said"
    return "$status"
}

# show_containers: the readings of every container, a line "N BASE64" each, as
# kernel_view.py kept them.
show_containers() {
    cat "$iso_views/views"
}

# release: the reading of containers is stopped if it still runs, and what it kept removed.
release() {
    [ -z "${iso_reader:-}" ] || kill "$iso_reader" 2>/dev/null
    [ -z "${iso_views:-}" ] || rm -rf "$iso_views"
}
