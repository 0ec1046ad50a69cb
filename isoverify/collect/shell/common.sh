# shellcheck shell=sh
# What the host's probe and the shell of the user's own facts use.

# dump FILE: a file's lines, without a fork (most readings are one /proc file).
dump() {
    while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done <"$1"
}
