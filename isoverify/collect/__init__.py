"""Collection: reaching hosts and containers and reading what their kernels show — the
targets, the one probe per host, the facts and their parsers, the shell programs and the
host-side kernel reader."""
