#!/usr/bin/env bash
# Make sure Debian's OpenSSH server is there for the SFTP drop tests
# (tests/storage/test_sftp_drop.py runs a private sshd on a test port; skipped without it,
# failed without it in CI). Installs openssh-server with apt-get when missing and we are root;
# the package's own service is not started (policy-rc.d), only the tests' private one runs.
set -u
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "sshd missing; installing openssh-server (apt-get)" >&2
  policy=/usr/sbin/policy-rc.d
  created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
  rc=$?
  [ "$created" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] && exit 0
fi
echo "warning: no sshd; the SFTP drop tests will be skipped (failed under CI=true)" >&2
exit 0
