# Sourced by BATS suites that read wisp's metrics file (docs/metrics.md).

# metric_total FILE GROUP FIELD: the field summed over the file's lines (each line holds the
# changes since the previous one); "null" when no line has it.
metric_total() { jq -s "map(.\"$2\".\"$3\" // empty) | add" "$1"; }
