#!/usr/bin/env bash
# make upgrade: move every lock to the newest versions the stated ranges allow, and keep the
# new locks only if lint, types and the whole suite pass with them. On failure the old locks
# are put back and the venv rebuilt from them, so a red upgrade leaves nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${UV:?run through make upgrade}"
# The same compile as make lock's, with --upgrade: newest versions within the stated ranges.
compile() {
  "$UV" pip compile --quiet --universal --generate-hashes --custom-compile-command "make lock" \
    --upgrade "$@"
}
locks=(requirements/dev.txt requirements/tools.txt layers/enforcer/requirements.txt)
backup=$(mktemp -d)
for lock in "${locks[@]}"; do cp "$lock" "$backup/$(echo "$lock" | tr / _)"; done
restore() {
  echo "upgrade: $1; the previous locks are kept" >&2
  for lock in "${locks[@]}"; do cp "$backup/$(echo "$lock" | tr / _)" "$lock"; done
  rm -rf .venv .venv-tools
  make -s dev >/dev/null
  exit 1
}

compile --python-version 3.11 --extra dev pyproject.toml -o requirements/dev.txt
compile --python-version 3.11 requirements/tools.in -o requirements/tools.txt
compile --python-version 3.11 pyproject.toml -o layers/enforcer/requirements.txt

echo "upgrade: versions that changed"
for lock in "${locks[@]}"; do
  diff <(grep -E '^[A-Za-z0-9_.-]+==' "$backup/$(echo "$lock" | tr / _)") \
       <(grep -E '^[A-Za-z0-9_.-]+==' "$lock") | sed -n "s|^[<>] |  $lock: &|p" || true
done

rm -rf .venv .venv-tools
make -s dev tools || restore "the new versions do not install"
make -s lint || restore "lint or types fail with the new versions"
make -s policy-test template || restore "the policy tests or the template checks fail with the new versions"
make -s test || restore "the suite fails with the new versions"
echo "upgrade: the suite passes; commit the three locks (git add requirements layers/enforcer/requirements.txt)"
