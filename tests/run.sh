#!/usr/bin/env bash
# Installs everything the tests need (Python packages, ruff and Debian's chromium), lints with ruff (its checks
# and its formatting) and runs every test, printing the slowest. Arguments go to pytest, e.g. `bash tests/run.sh -m "not browser and not slow"` for the quick loop.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  # Playwright cannot download its own browser here; the distribution's chromium serves instead.
  sudo_if_needed=""
  [ "$(id -u)" -eq 0 ] || sudo_if_needed="sudo"
  $sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
# Lint first, but run the tests either way: their results are worth having, and pytest's closing line stays
# the last line printed. The command fails when either fails.
lint_status=0
python3 -m ruff check . || lint_status=$?
python3 -m ruff format --check . || lint_status=$?
test_status=0
# One worker per core (the browser tests keep to one of them): a third worker on two cores made the suite slower.
python3 -m pytest --numprocesses=auto --dist=loadgroup --durations=25 "$@" || test_status=$?
if [ "$test_status" -ne 0 ]; then exit "$test_status"; fi
exit "$lint_status"
