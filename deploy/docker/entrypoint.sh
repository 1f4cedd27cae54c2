#!/bin/sh
# Container entrypoint: on first start create the configuration and database in /data
# (secrets generated; the admin password from WATCHKEEPER_ADMIN_PASSWORD[_FILE] or printed once),
# migrate, check the environment, then run the command (default: serve, which migrates under a lock).
set -eu
DATA="${WATCHKEEPER_DATA_DIR:-/data}"
if [ "${1:-serve}" = "serve" ]; then
  [ $# -gt 0 ] && shift
  if [ ! -f "$DATA/watchkeeper.yaml" ]; then
    watchkeeper init --data-dir "$DATA" --profile "${WATCHKEEPER_PROFILE:-dev}"
  fi
  # Migrate before the checks: after an image upgrade the schema is one release behind, and
  # doctor would refuse it (`serve` would migrate too, but only after doctor let it start).
  watchkeeper db upgrade --config "$DATA/watchkeeper.yaml"
  watchkeeper doctor --config "$DATA/watchkeeper.yaml" --no-port
  exec watchkeeper serve --config "$DATA/watchkeeper.yaml" "$@"
fi
exec watchkeeper "$@"
