#!/usr/bin/env bash
# Put a database back to a backup taken by `hotfix db backup`: the operator's wrapper around `hotfix db restore`.
#
#   scripts/database-rollback.sh [--yes] [restore options] BACKUP
#
# It first runs the restore as a dry run (checksum, full read, client/server versions, the sessions connected to the
# database and what would be done about them), shows what it found, and asks you to type ROLLBACK. The restore then
# holds off writers, takes and verifies a backup of the current data, blocks new connections, restores BACKUP in a
# single transaction that never waits silently for a lock, and checks the row counts. Without a terminal, --yes.
#
# Connection: DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGDATABASE); the password in PGPASSWORD or a .pgpass, not on
# the command line. Options passed on: --backup-dir DIR, --database NAME, --pg-bindir DIR, --check-sql SQL, --deep,
# --allow-other-database, --json, --config FILE, --sessions refuse|wait|terminate (or --terminate), --sessions-wait
# TIME, --lock-timeout TIME, --[no-]block-connections, --maintenance-db NAME, --expect-sha256 HEX.
# `hotfix db list` shows the backups. Exit codes: 0 restored, 1 refused (or not confirmed), 2 usage error, 3 could
# not restore (the output says whether the database is unchanged), 130/143 stopped by a signal (likewise).
set -euo pipefail

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

yes=0
dry_run=0
backup=""
args=()
while (($# > 0)); do
  case "$1" in
    -y | --yes) yes=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=1 ;;
    --deep | --allow-other-database | --json | --terminate | --block-connections | --no-block-connections)
      args+=("$1")
      ;;
    --backup-dir | --database | --pg-bindir | --check-sql | --config | --sessions | --sessions-wait | --lock-timeout | \
      --maintenance-db | --expect-sha256)
      if (($# < 2)); then
        echo "database-rollback: $1 needs a value" >&2
        exit 2
      fi
      args+=("$1" "$2")
      shift
      ;;
    --backup-dir=* | --database=* | --pg-bindir=* | --check-sql=* | --config=* | --sessions=* | --sessions-wait=* | \
      --lock-timeout=* | --maintenance-db=* | --expect-sha256=*)
      args+=("$1")
      ;;
    --)
      shift
      if (($# != 1)) || [[ -n "$backup" ]]; then
        echo "database-rollback: exactly one BACKUP" >&2
        exit 2
      fi
      backup=$1
      ;;
    -*)
      echo "database-rollback: unknown option $1 (see --help)" >&2
      exit 2
      ;;
    *)
      if [[ -n "$backup" ]]; then
        echo "database-rollback: exactly one BACKUP, got '$backup' and '$1'" >&2
        exit 2
      fi
      backup=$1
      ;;
  esac
  (($# > 0)) && shift
done
if [[ -z "$backup" ]]; then
  usage >&2
  exit 2
fi

if command -v hotfix >/dev/null 2>&1; then
  hotfix=(hotfix)
else
  hotfix=("${PYTHON:-python3}" -m hotfix_actions)
fi

if ((dry_run)); then
  exec "${hotfix[@]}" db restore --dry-run "${args[@]}" -- "$backup"
fi

if ((!yes)); then
  echo "== checking $backup (nothing is changed yet)" >&2
  "${hotfix[@]}" db restore --dry-run "${args[@]}" -- "$backup" >&2 || exit $?
  target="${HOTFIX_DATABASE:-${PGDATABASE:-the database named in DATABASE_URL}}"
  echo >&2
  echo "This replaces the data of ${target} with backup ${backup}." >&2
  echo "A verified backup of the current data is taken first; the restore is one transaction." >&2
  printf 'Type ROLLBACK to continue: ' >&2
  answer=""
  read -r answer || true
  if [[ "$answer" != "ROLLBACK" ]]; then
    echo "database-rollback: not confirmed; nothing was changed" >&2
    exit 1
  fi
fi

exec "${hotfix[@]}" db restore "${args[@]}" -- "$backup"
