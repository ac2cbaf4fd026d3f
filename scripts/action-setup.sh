#!/usr/bin/env bash
# Set up the `hotfix` CLI for a composite action: a fresh environment per job, never one an earlier job left behind.
#
# Trust: the only inputs trusted here are the action's own files (this script, requirements/*.lock, src/), which the
# runner fetched for this job at the ref the caller pinned; whoever could change them could change action.yml too.
# Everything else on a persistent runner may have been written by an earlier job (a tests job runs branch code):
#   - the environment is new in every job: a folder made with mktemp under this job's RUNNER_TEMP (which the runner
#     empties at the start of every job), mode 0700; its path and the digest of its manifest (every file's SHA-256,
#     mode and type, every link's target) reach the later actions of the same job through GITHUB_ENV, which no other
#     job can write; a later action reuses it only after checking owner, mode, the manifest and every placed folder
#     again, else it builds a new one;
#   - third-party packages are the wheels of requirements/action.lock, each used only when its bytes hash to a value
#     the lock lists (checked while it is copied into the job's folder), from the runner's wheelhouse or the index;
#   - each wheel is imported from its unpacked folder in the tool cache (one per wheel, named by its SHA-256), checked
#     file by file against the RECORD inside the checked wheel on every use and unpacked anew when it differs; where
#     that cannot be done, uv (requirements/action-tools.lock, its wheel checked the same way) installs the wheels
#     with --require-hashes into the job's environment;
#   - the project itself is not built: the environment points at the action's own src/ (a .pth file);
#     hotfix-bin/hotfix is a launcher written here, and the only thing put on PATH.
# Called as "$GITHUB_ACTION_PATH/../../scripts/action-setup.sh"; nothing from a workflow expression reaches this
# script except through the environment. HOTFIX_PYTHON picks the interpreter (default python3, >= 3.11) and
# HOTFIX_INDEX_URL the package index (default https://pypi.org/simple; https, or http to this machine).
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
python="${HOTFIX_PYTHON:-python3}"
index="${HOTFIX_INDEX_URL:-https://pypi.org/simple}"
helper="$root/scripts/action_wheels.py"
lock="$root/requirements/action.lock"
tools_lock="$root/requirements/action-tools.lock"
started="$(date +%s%N)"

fail() {
  local code="$1"
  shift
  echo "::error title=hotfix-actions setup::$*"
  exit "$code"
}
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

version="$(sed -n 's/^version = "\([0-9A-Za-z.+-]*\)"$/\1/p' "$root/pyproject.toml" | head -n 1)"
[[ -n "$version" ]] || fail 2 "cannot read the package version from the action's pyproject.toml"
[[ -f "$lock" && -f "$tools_lock" ]] || fail 2 "the action's requirements/action.lock or action-tools.lock is missing"
[[ -f "$root/src/hotfix_actions/__init__.py" ]] || fail 2 "the action's src/hotfix_actions is missing"
[[ "$root" != *$'\n'* ]] || fail 2 "the action's folder has a line break in its name"
if [[ ! "$index" =~ ^https://[^[:space:]]+$ && ! "$index" =~ ^http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/[^[:space:]]*)?$ ]]; then
  fail 2 "HOTFIX_INDEX_URL must be an https:// URL (or http:// to this machine), e.g. https://pypi.org/simple"
fi

temp_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
temp_root="${temp_root%/}"
[[ "$temp_root" != *$'\n'* ]] || fail 2 "RUNNER_TEMP has a line break in its name"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  fail 2 "Python 3.11 or newer is needed (found: $("$python" --version 2>&1 || echo none)); add actions/setup-python before this action"
fi

# A later action of the same job: reuse the environment the first one made, once it is proved unchanged.
home="${HOTFIX_ACTIONS_HOME:-}"
if [[ -n "$home" ]]; then
  name="${home#"$temp_root"/}"
  if [[ "$home" != "$temp_root"/hotfix-actions.* || "$name" == */* ]]; then
    reason="it is not a folder this set-up makes under RUNNER_TEMP"
  elif reason="$("$python" -I "$helper" check --home "$home" --digest "${HOTFIX_ACTIONS_MANIFEST_SHA256:-none}")"; then
    echo "hotfix-actions $version (reused, $(ms "$started") ms): $home/venv"
    exit 0
  fi
  echo "::warning title=hotfix-actions setup::not reusing the environment of an earlier step ($reason); building a new one"
fi

mkdir -p "$temp_root"
home="$(mktemp -d "$temp_root/hotfix-actions.XXXXXXXX")"
chmod 700 "$home"
wheels="$home/wheels"
mkdir "$wheels" "$home/bin"
shared=""
if [[ -n "${RUNNER_TOOL_CACHE:-}" ]]; then
  shared="$RUNNER_TOOL_CACHE/hotfix-actions/wheelhouse"
fi

# 1. The wheels: those another job kept in the tool cache, each checked against the lock while it is copied into
#    this job's folder; the missing ones from the index (the file pip would pick for this Python, in parallel, kept
#    only when its hash is in the lock).
step="$(date +%s%N)"
gathered="$("$python" -I "$helper" gather --lock "$lock" --shared "$shared" --to "$wheels" --index "$index")" ||
  fail 3 "could not fetch the wheels of requirements/action.lock from $index"
grep -v '^taken=' <<<"$gathered" || true
gathered="$(tail -n 1 <<<"$gathered")"
how="warm"
[[ "$gathered" == *" fetched=0 failed=0" ]] || how="cold"
gather_ms="$(ms "$step")"

# 2. The environment imports each wheel from its unpacked folder (one per wheel, shared by the jobs of this runner),
#    checked file by file against the RECORD of the checked wheel (SHA-256 of every file, no file more or less, none
#    writable by others) and unpacked anew when it differs. Where that cannot be done, uv installs the wheels with
#    --require-hashes into the job's environment instead.
step="$(date +%s%N)"
"$python" -m venv --without-pip "$home/venv" || fail 3 "$python could not make a virtual environment"
site=("$home"/venv/lib/python3*/site-packages)
[[ -d "${site[0]}" ]] || fail 3 "the new environment has no site-packages folder"
store="${shared:+$RUNNER_TOOL_CACHE/hotfix-actions/unpacked}"
store="${store:-$home/unpacked}"
placed="$("$python" -I "$helper" place --lock "$lock" --wheels "$wheels" --store "$store" \
  --out "${site[0]}/hotfix_actions_deps.pth")" || rm -f "${site[0]}/hotfix_actions_deps.pth"
grep -v '^placed=' <<<"$placed" || true
if [[ ! -f "${site[0]}/hotfix_actions_deps.pth" ]]; then
  "$python" -I "$helper" gather --lock "$tools_lock" --to "$wheels" --index "$index" --bin "$home/bin" >/dev/null ||
    fail 3 "could not get uv for this platform ($(uname -sm)) from requirements/action-tools.lock"
  export UV_CACHE_DIR="$home/uv-cache" UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never
  "$home/bin/uv" pip install --quiet --no-config --python "$home/venv/bin/python" --require-hashes --no-deps \
    --only-binary :all: --find-links "$wheels" --index-url "$index" -r "$lock" ||
    fail 3 "could not install requirements/action.lock from $index with uv (see above)"
  how="$how, uv"
fi
install_ms="$(ms "$step")"

# 3. The project itself, from the action's own checkout: no build, no download.
printf '%s\n' "$root/src" >"${site[0]}/hotfix_actions_source.pth"
# The launcher: a shell line that Python reads as a string, so its first line needs no absolute path (paths with
# spaces, long paths). It lives in a folder of its own that goes on PATH (venv/bin would shadow the job's `python`),
# and sends bytecode to the job's folder, never into the checked environment or the shared unpacked wheels.
mkdir "$home/venv/hotfix-bin"
cat >"$home/venv/hotfix-bin/hotfix" <<'LAUNCHER'
#!/bin/sh
''':'
PYTHONPYCACHEPREFIX="${0%/*}/../../pycache" exec "${0%/*}/../bin/python" "$0" "$@"
'''
import sys

from hotfix_actions.cli import main

if __name__ == "__main__":
    sys.exit(main())
LAUNCHER
chmod 755 "$home/venv/hotfix-bin/hotfix"
digest="$("$python" -I "$helper" manifest --out "$home/manifest" "$home/venv")"

# 4. Keep the wheels for later jobs on this runner (checked again when they are taken).
keep_ms=0
if [[ -n "$shared" && ("$how" == cold* || "$gathered" != *" rejected=0 "*) ]]; then
  step="$(date +%s%N)"
  "$python" -I "$helper" keep --lock "$lock" --lock "$tools_lock" --wheels "$wheels" --to "$shared" >/dev/null ||
    echo "::warning title=hotfix-actions setup::could not keep the wheels in the runner's tool cache for later jobs"
  keep_ms="$(ms "$step")"
fi

echo "$home/venv/hotfix-bin" >>"${GITHUB_PATH:-/dev/null}"
{
  echo "HOTFIX_ACTIONS_HOME=$home"
  echo "HOTFIX_ACTIONS_MANIFEST_SHA256=$digest"
} >>"${GITHUB_ENV:-/dev/null}"
echo "hotfix-actions $version ($how, $(ms "$started") ms: wheels ${gather_ms} ms [$gathered], install ${install_ms} ms, keep ${keep_ms} ms): $home/venv"
