#!/usr/bin/env bash
# Set up the `hotfix` CLI for a composite action: once per job, then reused.
#
# The package is installed into a virtual environment under the runner's tool cache, keyed by the package version
# and a digest of its sources, so the second action in the same job (or any later job on the same runner) only puts
# it on PATH. Called as "$GITHUB_ACTION_PATH/../../scripts/action-setup.sh"; nothing from a workflow expression
# reaches this script except through the environment.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
python="${HOTFIX_PYTHON:-python3}"
started="$(date +%s%N)"

version="$(sed -n 's/^version = "\([0-9A-Za-z.+-]*\)"$/\1/p' "$root/pyproject.toml" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "::error title=hotfix-actions setup::cannot read the package version from $root/pyproject.toml"
  exit 2
fi
digest="$(cd "$root" && find pyproject.toml src -type f \( -name '*.py' -o -name '*.json' -o -name '*.toml' \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
cache_root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}"
venv="$cache_root/hotfix-actions/$version-$digest"

if [[ -x "$venv/bin/hotfix" && -f "$venv/.complete" ]]; then
  how="reused"
else
  if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "::error title=hotfix-actions setup::Python 3.11 or newer is needed (found: $("$python" --version 2>&1 || echo none)); add actions/setup-python before this action"
    exit 2
  fi
  mkdir -p "$(dirname "$venv")"
  # A venv cannot be moved (absolute shebangs), so build it in place; `.complete` marks a finished install and a
  # half-built one from an earlier failure is removed first.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # shellcheck disable=SC2086 # HOTFIX_PIP_ARGS is a list of pip options set by the runner's owner.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input ${HOTFIX_PIP_ARGS:-} "$root"
  touch "$venv/.complete"
  how="installed"
fi

echo "$venv/bin" >> "${GITHUB_PATH:-/dev/null}"
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
echo "hotfix-actions $version ($how, ${elapsed} ms): $venv"
