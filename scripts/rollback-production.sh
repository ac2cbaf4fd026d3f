#!/usr/bin/env bash
# Roll a production Deployment back: the operator's wrapper around `hotfix rollback`.
#
#   scripts/rollback-production.sh [--yes] [--dry-run] DEPLOYMENT [hotfix rollback options]
#
# It first prints the plan (`hotfix rollback --dry-run`: the target, the images, the namespace, nothing changed), then
# asks you to type the Deployment's name. The rollback then takes the Lease lock, saves a snapshot, writes only with
# the resourceVersion it read, waits for the rollout and names the blocking pod reason if there is one. Running it
# twice is safe: the second run changes nothing. Without a terminal, pass --yes.
#
# Options are passed on to `hotfix rollback`, e.g. --namespace NS, --strategy undo|blue-green|redeploy|auto,
# --severity LEVEL, --to-revision N, --to-image IMAGE, --reason TEXT, --resume, --snapshot-dir DIR, --context CTX.
# Credentials: --kubeconfig FILE, KUBECONFIG, or HOTFIX_KUBECONFIG_DATA (base64).
# Exit codes: 0 rolled back (or nothing to do), 1 refused, failed or not confirmed, 2 usage error, 3 cluster
# unreachable or not answering, 4 locked by another run (named), 5 superseded (someone else deployed after our
# write), 130/143 interrupted by Ctrl-C/SIGTERM (the lock is released; one line says what the Deployment runs).
set -euo pipefail

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

yes=0
dry_run=0
deployment=""
args=()
while (($# > 0)); do
  case "$1" in
    -y | --yes) yes=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=1 ;;
    -d | --deployment)
      if (($# < 2)); then
        echo "rollback-production: $1 needs a value" >&2
        exit 2
      fi
      deployment=$2
      shift
      ;;
    -n | --namespace | --strategy | --severity | --to-revision | --to-image | --to | --container | --service | \
      --to-color | --grace-period | --timeout | --lock-timeout | --snapshot-dir | --fail-fast-after | --settle | \
      --health-url | --health-status | --health-retries | --reason | --environment | --github-token | --kubeconfig | \
      --kubeconfig-data | --context | --config)
      if (($# < 2)); then
        echo "rollback-production: $1 needs a value" >&2
        exit 2
      fi
      args+=("$1" "$2")
      shift
      ;;
    -*) args+=("$1") ;; # flags and --option=value go to `hotfix rollback`, which checks them
    *)
      if [[ -z "$deployment" ]]; then
        deployment=$1
      else
        args+=("$1")
      fi
      ;;
  esac
  shift
done
if [[ -z "$deployment" ]]; then
  usage >&2
  exit 2
fi

if command -v hotfix >/dev/null 2>&1; then
  hotfix=(hotfix)
else
  hotfix=("${PYTHON:-python3}" -m hotfix_actions)
fi

if ((dry_run)); then
  exec "${hotfix[@]}" rollback --dry-run --deployment "$deployment" "${args[@]}"
fi

if ((!yes)); then
  if [[ ! -t 0 ]]; then
    echo "rollback-production: no terminal to confirm on; pass --yes to roll back without asking" >&2
    exit 1
  fi
  echo "== the plan (nothing is changed yet)" >&2
  "${hotfix[@]}" rollback --dry-run --deployment "$deployment" "${args[@]}" >&2 || exit $?
  echo >&2
  printf 'Type the deployment name (%s) to roll it back: ' "$deployment" >&2
  answer=""
  read -r answer || true
  if [[ "$answer" != "$deployment" ]]; then
    echo "rollback-production: not confirmed; nothing was changed" >&2
    exit 1
  fi
fi

exec "${hotfix[@]}" rollback --deployment "$deployment" "${args[@]}"
