#!/usr/bin/env bash
# Put a database back to a backup taken by `hotfix db backup`: the operator's wrapper around `hotfix db restore`.
#
#   scripts/database-rollback.sh [--yes] [restore options] BACKUP
#
# It first runs the restore as a dry run (checksum, full read, client/server versions), shows what it found, and
# asks you to type ROLLBACK. The restore then takes and verifies a backup of the current data, restores BACKUP in a
# single transaction (an error changes nothing), and checks the row counts. Without a terminal, pass --yes.
#
# Connection: DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGDATABASE); the password in PGPASSWORD or a .pgpass, not on
# the command line. Options passed on: --backup-dir DIR, --database NAME, --pg-bindir DIR, --check-sql SQL, --deep,
# --allow-other-database, --json, --config FILE. `hotfix db list` shows the backups.
# Exit codes: 0 restored, 1 refused (or not confirmed), 2 usage error, 3 could not restore (nothing changed).
set -euo pipefail

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

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
    --deep | --allow-other-database | --json) args+=("$1") ;;
    --backup-dir | --database | --pg-bindir | --check-sql | --config)
      if (($# < 2)); then
        echo "database-rollback: $1 needs a value" >&2
        exit 2
      fi
      args+=("$1" "$2")
      shift
      ;;
    --backup-dir=* | --database=* | --pg-bindir=* | --check-sql=* | --config=*) args+=("$1") ;;
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
