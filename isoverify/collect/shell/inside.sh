# shellcheck shell=sh
# inside ENGINE ID SECONDS BYTES COMMAND: COMMAND run by the container's own /bin/sh
# through the engine's exec, which keeps it confined as the container is (its user,
# capabilities, seccomp filter, no_new_privs, LSM label and cgroup). What it prints is
# the container's: each stream is cut at BYTES (the file-size limit ends the engine's
# client there), and the exec is ended after SECONDS. The last line on stderr is this
# function's own, after all the container printed: "isoverify-inside STATUS CUT STATE",
# CUT 1 when a stream reached BYTES, and STATE, after a failure, what the engine says of
# the container now ("true/STARTED" while it runs, "gone" when it cannot say).
inside() {
    dir=$(mktemp -d) || return 125
    (
        ulimit -f $(($4 / 512 + 1))
        exec timeout -k 2 "$3" "$1" exec "$2" /bin/sh -c "$5" >"$dir/out" 2>"$dir/err" </dev/null
    )
    status=$?
    cut=0
    for stream in out err; do
        [ "$(wc -c <"$dir/$stream")" -lt "$4" ] || cut=1
    done
    state=-
    if [ "$status" -ne 0 ]; then
        state=$(timeout "$3" "$1" inspect -f '{{.State.Running}}/{{json .State.StartedAt}}' "$2" 2>/dev/null) ||
            state=gone
    fi
    head -c "$4" "$dir/out"
    head -c "$4" "$dir/err" >&2
    printf '\nisoverify-inside %s %s %s\n' "$status" "$cut" "$(printf %s "$state" | tr -s ' \t\n' '_')" >&2
    rm -rf "$dir"
    return "$status"
}
