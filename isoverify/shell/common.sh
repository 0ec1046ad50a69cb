# shellcheck shell=sh
# What both the host's probe and each container's readings use.

# dump FILE: a file's lines, without a fork (most readings are one /proc file).
dump() {
    while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done <"$1"
}
