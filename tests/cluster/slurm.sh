#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the SLURM profile test in tests/test_workflow.py: munge,
# MariaDB, slurmdbd (the Snakemake SLURM executor reads job states with sacct, which needs accounting), slurmctld and
# slurmd, all state under DIR.
#
#   tests/cluster/slurm.sh install        # Debian packages (root): slurm-wlm slurmdbd mariadb-server munge
#   tests/cluster/slurm.sh start DIR      # state and logs in DIR; the config in /etc/slurm (see below)
#   tests/cluster/slurm.sh stop DIR
#
# The config goes to /etc/slurm/slurm.conf, Slurm's default place: the executor's job step drops SLURM_* variables
# (SLURM_CONF among them) before its inner srun, so a config elsewhere is not found inside jobs. A slurm.conf this
# script did not write is never replaced (the script stops, saying so).
set -euo pipefail
cmd=${1:?install|start|stop}

if [ "$cmd" = install ]; then
  command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null && exit 0
  export DEBIAN_FRONTEND=noninteractive
  pkgs="slurm-wlm slurmdbd mariadb-server munge"
  apt="apt-get -o DPkg::Lock::Timeout=900"   # another test may be installing (chromium) at the same time
  $apt install -y -q --no-install-recommends $pkgs || { $apt update -q && $apt install -y -q --no-install-recommends $pkgs; }
  exit 0
fi

D=$(realpath -m "${2:?state directory}")
if [ "$cmd" = stop ]; then
  for p in slurmd slurmctld slurmdbd mariadb; do
    [ -f "$D/$p.pid" ] && kill "$(cat "$D/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  # the configs this script wrote go too: with a slurm.conf naming a controller that no longer runs, every
  # `scontrol` waits ~10 s for it, and Snakemake's SLURM plugin calls `scontrol show config` each time any snakemake
  # command starts (measured: `snakemake --version` 11.9 s with the stale file, 1.7 s without)
  for f in /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf; do
    [ -f "$f" ] && grep -qF "# written by repro tests/cluster/slurm.sh" "$f" && rm -f "$f"
  done
  exit 0
fi

ETC=/etc/slurm
MARK="# written by repro tests/cluster/slurm.sh"
if [ -f "$ETC/slurm.conf" ] && ! grep -qF "$MARK" "$ETC/slurm.conf"; then
  echo "$ETC/slurm.conf exists and was not written by this script: not replacing a real cluster's config"; exit 3
fi
mkdir -p "$D"/{state,spool,mysql} /run/munge /run/mysqld "$ETC"
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
dbport=${REPRO_SLURM_DB_PORT:-3307}

# munge: one daemon per machine; the packaged key
pgrep -x munged >/dev/null || munged --force

# MariaDB for slurmdbd, on loopback
if [ ! -d "$D/mysql/mysql" ]; then
  mariadb-install-db --user=root --datadir="$D/mysql" --auth-root-authentication-method=normal >"$D/mariadb-install.log" 2>&1
fi
mariadbd --user=root --datadir="$D/mysql" --socket="$D/mysql.sock" --port="$dbport" --bind-address=127.0.0.1 \
  --pid-file="$D/mariadb.pid" --log-error="$D/mariadb.log" --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
for _ in $(seq 60); do mariadb -S "$D/mysql.sock" -u root -e "select 1" >/dev/null 2>&1 && break; sleep 0.5; done
mariadb -S "$D/mysql.sock" -u root -e "create database if not exists slurm_acct_db;
  create user if not exists 'slurm'@'127.0.0.1' identified by 'slurm'; grant all on slurm_acct_db.* to 'slurm'@'127.0.0.1';
  create user if not exists 'slurm'@'localhost' identified by 'slurm'; grant all on slurm_acct_db.* to 'slurm'@'localhost';"

cat >"$ETC/slurmdbd.conf" <<CONF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$dbport
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$D/slurmdbd.log
PidFile=$D/slurmdbd.pid
CONF
chmod 600 "$ETC/slurmdbd.conf"

cat >"$ETC/slurm.conf" <<CONF
$MARK
ClusterName=repro
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/none
MinJobAge=86400
ReturnToService=2
SchedulerParameters=sched_interval=1
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$ETC/slurm.conf"

slurmdbd 2>"$D/slurmdbd.err" || { cat "$D/slurmdbd.err"; exit 1; }   # reads slurmdbd.conf beside $SLURM_CONF
for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -i add cluster repro >/dev/null 2>&1 || true
sacctmgr -i add account repro Cluster=repro Description=tests Organization=repro >/dev/null 2>&1 || true
sacctmgr -i add user root Account=repro DefaultAccount=repro >/dev/null 2>&1 || true
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.5; done
sinfo -h -o "%P %T %c %m" | grep -q idle || { echo "slurm did not come up:"; tail -20 "$D"/*.log; exit 1; }
echo "SLURM_CONF=$ETC/slurm.conf"
