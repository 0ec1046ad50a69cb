# shellcheck shell=sh
# inside ENGINE ID SECONDS BYTES COMMAND: COMMAND run by the container's own /bin/sh
# through the engine's exec, which keeps it confined as the container is (its user,
# capabilities, seccomp filter, no_new_privs, LSM label and cgroup). What it prints is
# the container's: each stream is cut at BYTES (the file-size limit ends the engine's
# client there), and the exec is ended after SECONDS.
inside() {
    dir=$(mktemp -d) || return 125
    (
        ulimit -f $(($4 / 512 + 1))
        exec timeout -k 2 "$3" "$1" exec "$2" /bin/sh -c "$5" >"$dir/out" 2>"$dir/err" </dev/null
    )
    status=$?
    head -c "$4" "$dir/out"
    head -c "$4" "$dir/err" >&2
    rm -rf "$dir"
    return "$status"
}
