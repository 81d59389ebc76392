#!/usr/bin/env bash
# Makes this machine able to run kubelite: Debian packages (Docker engine, static busybox, iptables),
# the Python package itself (with test tools when --test is given), a running Docker engine, and the
# local images. Idempotent: what is already there is left alone, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

say() { printf 'setup: %s\n' "$*"; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker >/dev/null 2>&1 || need_apt+=(docker.io)
{ [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd && ! ldd /bin/busybox >/dev/null 2>&1; } \
  || need_apt+=(busybox-static)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)  # the proxy adds Service addresses and routes with `ip`
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${need_apt[*]}; install them (Debian: apt-get install ${need_apt[*]}) and run again" >&2
    exit 1
  fi
  say "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    say "the Docker engine is not running; start it (e.g. sudo systemctl start docker) and run again" >&2
    exit 1
  fi
  say "starting dockerd (log: /var/log/kubelite-dockerd.log)"
  setsid dockerd >/var/log/kubelite-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { say "dockerd did not come up; see /var/log/kubelite-dockerd.log" >&2; exit 1; }
fi

extras=""
[ $with_tests = 1 ] && extras="[test]"
check_args=""
[ $with_tests = 1 ] && check_args="--test"
if ! "$PYTHON" deploy/deps_missing.py $check_args >/dev/null 2>&1; then
  say "installing kubelite$extras (pip, editable)"
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".$extras"
fi

bash deploy/images.sh
say "ready"
