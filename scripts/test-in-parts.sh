#!/usr/bin/env bash
# The whole suite, in PARTS pytest processes one after the other (default 2), each over a
# slice of tests/ (its folders, then its top-level files). Arguments are passed to every pytest
# run; exit status is non-zero if any part failed.
# Why parts: until 2026-12 every app a test built stayed alive (FastAPI's endpoint caches held
# a closure over the app in api/docs.py), about 7 MB per test; one process over the ~2,300
# tests reached this machine's 24 GB and was killed, hence 4 parts. With that fixed, measured
# with /usr/bin/time -v: `pytest tests/api` (231 tests) peaked at 3.17 GB before, 1.49 GB after;
# after the fix no AppContext outlives its test and the peak grows by well under 1 MB per test
# once the ML libraries are loaded (tests/web: flat at ~400 MB). The whole suite in one process
# was not measured; 2 parts stay under the limit even at the old rate.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"
PARTS="${PARTS:-2}"

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
