#!/usr/bin/env bash
# Stop exactly the daemons tests/slurm/start-cluster.sh started (pids in $WLF_SLURM_DIR/run/started.pids)
# and remove the /etc/slurm/slurm.conf link if it made one.
# Idempotent: a cluster already stopped, or never started, is not an error.
set -euo pipefail

STATE_DIR="${WLF_SLURM_DIR:-/tmp/wlf-slurm}"
PIDS_FILE="$STATE_DIR/run/started.pids"
STOP_TIMEOUT_S=20

if [[ ! -f "$PIDS_FILE" ]]; then
    echo "stop-cluster: nothing recorded in $PIDS_FILE; nothing to stop"
    exit 0
fi

# Stop in reverse start order: slurmd, slurmctld, then munged (the daemons need munge to say goodbye).
mapfile -t entries < <(tac "$PIDS_FILE")
for entry in "${entries[@]}"; do
    # "<daemon> <pid>", or "link <path>" for the config link start-cluster.sh made
    read -r name value <<<"$entry"
    [[ -n "${value:-}" ]] || continue
    if [[ "$name" == link ]]; then
        if [[ "$(readlink "$value")" == "$STATE_DIR/etc/slurm.conf" ]]; then
            rm -f "$value"
            echo "stop-cluster: removed the link $value"
        fi
        continue
    fi
    pid="$value"
    # Only signal the pid if it still runs the daemon we started (pids can be reused).
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]]; then
        echo "stop-cluster: $name (pid $pid) is not running"
        continue
    fi
    kill -TERM "$pid"
    for _ in $(seq $((STOP_TIMEOUT_S * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "stop-cluster: $name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stop-cluster: stopped $name (pid $pid)"
done
rm -f "$PIDS_FILE"
