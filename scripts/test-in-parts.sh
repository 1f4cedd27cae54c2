#!/usr/bin/env bash
# The whole suite, in PARTS pytest processes one after the other (default 4), each over a
# slice of tests/ (its folders, then its top-level files). Why: a test session's memory grows
# with every app a test creates and never gives it back (about 7 MB per test here, cause not
# found yet), and one process over the ~2,300 tests reached this machine's 24 GB and was
# killed by the kernel. Arguments are passed to every pytest run; exit status is non-zero if
# any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"
PARTS="${PARTS:-4}"

mapfile -t items < <(find tests -mindepth 1 -maxdepth 1 -type d ! -name '__pycache__' | sort; \
  find tests -mindepth 1 -maxdepth 1 -type f -name 'test_*.py' | sort)
per=$(( (${#items[@]} + PARTS - 1) / PARTS ))
status=0
for (( start = 0; start < ${#items[@]}; start += per )); do
  part=("${items[@]:start:per}")
  echo "== pytest part $(( start / per + 1 )): ${part[*]}"
  "$PYTEST" "$@" "${part[@]}" || status=1
done
exit $status
