#!/usr/bin/env bash
# Make sure Debian's chromium is there for the dashboard's headless-browser test
# (tests/simpul/orchestration/test_dashboard_browser.py; skipped without it).
# Installs it with apt-get when missing and we are root; otherwise only warns.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium missing; installing it (apt-get, about 1-3 minutes)" >&2
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
fi
echo "warning: no chromium; the dashboard browser test will be skipped" >&2
exit 0
