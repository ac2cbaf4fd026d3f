#!/usr/bin/env bash
# The root action's dispatcher: `command:` picks the verb from an allowlist, `args:` adds one word per line.
# Nothing is evaluated by a shell: the words go to `hotfix` as separate arguments. The typed inputs (config,
# tokens, URLs, kubeconfig) arrive through the environment, never on this command line.
set -euo pipefail

read -r -a words <<< "${HOTFIX_ACTION_COMMAND:-}"
if (( ${#words[@]} == 0 )); then
  echo "::error title=hotfix-actions::input 'command' is empty; set it to e.g. validate, rollback or 'db backup'"
  exit 2
fi
case "${words[0]}" in
  validate|start|canary|monitor|promote|rollback|merge-back|status|snapshot|notify|postmortem|deployment|db|config|drill|fleet) ;;
  *)
    echo "::error title=hotfix-actions::input 'command' must start with one of validate, start, canary, monitor, promote, rollback, merge-back, status, snapshot, notify, postmortem, deployment, db, config, drill, fleet"
    exit 2
    ;;
esac
for word in "${words[@]}"; do
  if [[ ! "$word" =~ ^[a-z][a-z-]{0,30}$ ]]; then
    echo "::error title=hotfix-actions::input 'command' may only hold lower-case command words"
    exit 2
  fi
done

args=()
if [[ -n "${HOTFIX_ACTION_ARGS:-}" ]]; then
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "${line//[[:space:]]/}" ]] && continue
    args+=("$line")
  done <<< "$HOTFIX_ACTION_ARGS"
fi
unset HOTFIX_ACTION_COMMAND HOTFIX_ACTION_ARGS
# Everything on this command line came from `args`, where a newline in an interpolated value adds a word: hotfix
# refuses options that move trust there (--config, --github-api-url, --pg-bindir, ...) unless the configuration
# allows them (security.allow_args), and checks the GitHub URLs against the runner's (commands/_trust.py).
export HOTFIX_ACTION_ARGS_GUARD=1
exec hotfix "${words[@]}" "${args[@]}"
