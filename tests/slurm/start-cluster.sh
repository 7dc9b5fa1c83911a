#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine, for testing the workflow's SLURM profile.
#
#   tests/slurm/start-cluster.sh     # as root; then sinfo, sbatch, snakemake --executor slurm ...
#   tests/slurm/stop-cluster.sh
#
# As root, non-interactive and idempotent: installs Debian's slurmctld, slurmd, slurm-client and
# munge when missing, writes its own slurm.conf under $WLF_SLURM_DIR (default /tmp/wlf-slurm), links
# /etc/slurm/slurm.conf to it, starts munged (unless one already answers), slurmctld and slurmd, waits
# until the node is idle, and records what it started in $WLF_SLURM_DIR/run/started.pids so
# stop-cluster.sh stops exactly those daemons and removes exactly that link.
# Clients must find the config at the default path: the plugin's job step drops SLURM_* variables
# (SLURM_CONF included) before its `srun` inside the job. A real /etc/slurm/slurm.conf that this
# script did not write is never touched: the script refuses to run instead.
# The node has no GPUs and no GRES: GPU requests cannot be scheduled on it (see the README, "The test cluster").
set -euo pipefail

STATE_DIR="${WLF_SLURM_DIR:-/tmp/wlf-slurm}"
IDLE_TIMEOUT_S="${WLF_SLURM_IDLE_TIMEOUT_S:-60}"
# The plugin's squeue status check needs finished jobs to stay visible for >= 3 x its first
# status-check delay (40 s by default); 600 s leaves room for slow status polling.
MIN_JOB_AGE_S=600

CONF="$STATE_DIR/etc/slurm.conf"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/log"
PIDS_FILE="$RUN_DIR/started.pids"
SYSTEM_CONF=/etc/slurm/slurm.conf
export SLURM_CONF="$CONF"

# Exit codes: 2 = this machine cannot host the test cluster (not root, no packages, a real SLURM
# config in the way); 1 = the cluster failed to start (a bug to look at, with the daemons' logs).
die() {
    echo "start-cluster: error: $*" >&2
    exit 1
}

cannot_host() {
    echo "start-cluster: cannot host a test cluster: $*" >&2
    exit 2
}

show_logs() {
    local log
    for log in "$LOG_DIR"/slurmctld.log "$LOG_DIR"/slurmd.log /var/log/munge/munged.log; do
        if [[ -f "$log" ]]; then
            echo "---- last lines of $log ----" >&2
            tail -n 25 "$log" >&2
        fi
    done
}

pid_alive() {
    [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null
}

recorded_pid() {
    # Prints the pid recorded for daemon $1, or nothing.
    [[ -f "$PIDS_FILE" ]] || return 0
    awk -v name="$1" '$1 == name {print $2}' "$PIDS_FILE"
}

node_state() {
    # Compact state as sinfo prints it: 'idle', or e.g. 'idle*' when slurmd does not answer.
    sinfo --noheader --Node --format=%t 2>/dev/null | head -n 1 || true
}

[[ "$(id -u)" -eq 0 ]] || cannot_host "must run as root (it installs packages and starts daemons)"

# ---- already running? (idempotent) ----
ctld_pid="$(recorded_pid slurmctld)"
if pid_alive "$ctld_pid" && pid_alive "$(recorded_pid slurmd)" && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; then
    echo "start-cluster: already running (slurmctld pid $ctld_pid), node $(node_state)"
    exit 0
fi
if [[ -f "$PIDS_FILE" ]]; then
    # A half-started or crashed cluster of ours: stop what is left of it, then start clean.
    "$(dirname "$0")/stop-cluster.sh" || true
fi

# ---- packages ----
missing=()
for tool in slurmctld slurmd sbatch munged; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "start-cluster: installing SLURM and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    command -v apt-get >/dev/null || cannot_host "no apt-get to install ${missing[*]}"
    apt-get update -qq || cannot_host "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
        || cannot_host "apt-get install slurmctld slurmd slurm-client munge failed"
fi

# ---- config ----
if [[ -e "$SYSTEM_CONF" || -L "$SYSTEM_CONF" ]] && [[ "$(readlink "$SYSTEM_CONF")" != "$CONF" ]]; then
    cannot_host "$SYSTEM_CONF exists and is not this test cluster's; refusing to replace a real SLURM config"
fi
mkdir -p "$STATE_DIR/etc" "$RUN_DIR" "$LOG_DIR" "$STATE_DIR/spool/ctld" "$STATE_DIR/spool/d"
node="$(hostname -s)"
# slurmd -C reports this machine's real layout; keep 5% of memory for the OS and the daemons.
hw_line="$(slurmd -C | head -n 1)"
[[ "$hw_line" == NodeName=* ]] || die "slurmd -C printed no node line: $hw_line"
real_memory_mb="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw_line")"
layout="$(tr ' ' '\n' <<<"$hw_line" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' \
    | tr '\n' ' ')"
usable_memory_mb=$((real_memory_mb * 95 / 100))

conf_tmp="$(mktemp "$CONF.XXXXXX")"
cat >"$conf_tmp" <<EOF
# Written by tests/slurm/start-cluster.sh: a one-node test cluster on $node.
ClusterName=wlf-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR/spool/ctld
SlurmdSpoolDir=$STATE_DIR/spool/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd and no cgroups here: track processes by parent pid, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
# No slurmdbd: squeue --state=all (while a job is younger than MinJobAge) is the only job history.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=$MIN_JOB_AGE_S
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
SlurmctldTimeout=120
SlurmdTimeout=300
InactiveLimit=0
KillWait=30
Waittime=0
NodeName=$node NodeAddr=127.0.0.1 ${layout}RealMemory=$usable_memory_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
mv "$conf_tmp" "$CONF"
chmod 644 "$CONF"
mkdir -p "$(dirname "$SYSTEM_CONF")"
: >"$PIDS_FILE"
if [[ ! -L "$SYSTEM_CONF" ]]; then
    ln -s "$CONF" "$SYSTEM_CONF"
    echo "link $SYSTEM_CONF" >>"$PIDS_FILE"
fi

# ---- daemons ----
record() {
    echo "$1 $2" >>"$PIDS_FILE"
}

wait_pid_file() {
    # Prints the pid in file $1 once the daemon has written it (a daemon writes it after forking).
    local _
    for _ in $(seq 100); do
        if [[ -s "$1" ]]; then
            cat "$1"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    echo "start-cluster: using the munged that is already running"
else
    [[ -s /etc/munge/munge.key ]] || {
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    }
    install -d -o munge -g munge -m 755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid \
        || { show_logs; die "munged did not start"; }
    munged_pid="$(wait_pid_file /run/munge/munged.pid)" || { show_logs; die "munged wrote no pid file"; }
    record munged "$munged_pid"
fi

rm -f "$RUN_DIR/slurmctld.pid" "$RUN_DIR/slurmd.pid"
slurmctld -f "$CONF" -c -i || { show_logs; die "slurmctld did not start"; }
ctld_pid="$(wait_pid_file "$RUN_DIR/slurmctld.pid")" || { show_logs; die "slurmctld wrote no pid file"; }
record slurmctld "$ctld_pid"
slurmd -f "$CONF" || { show_logs; die "slurmd did not start"; }
slurmd_pid="$(wait_pid_file "$RUN_DIR/slurmd.pid")" || { show_logs; die "slurmd wrote no pid file"; }
record slurmd "$slurmd_pid"

# ---- wait for the node ----
deadline=$((SECONDS + IDLE_TIMEOUT_S))
state=""
while ((SECONDS < deadline)); do
    state="$(node_state)"
    [[ "$state" == idle ]] && break
    sleep 1
done
if [[ "$state" != idle ]]; then
    show_logs
    die "node $node is '${state:-not reported}' after ${IDLE_TIMEOUT_S}s, not idle" \
        "(daemons left running; stop them with tests/slurm/stop-cluster.sh)"
fi
echo "start-cluster: node $node idle (${layout}RealMemory=$usable_memory_mb), partition debug," \
    "config $SYSTEM_CONF -> $CONF"
