#!/usr/bin/env bash
# Installs Debian's haproxy for the haproxy hook tests (crates/ward-actuate/tests/haproxy_hook.rs),
# idempotently: nothing is done when /usr/sbin/haproxy exists. Run as root. The tests start
# their own haproxy processes on loopback; the system service is stopped and disabled so it
# never holds a port or a socket the tests expect to be free.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "haproxy-up.sh: run as root (it installs a package)" >&2; exit 1; }
if [ ! -x /usr/sbin/haproxy ]; then
  echo "haproxy: installing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq haproxy >/dev/null
  # The package starts its own instance; the tests need none.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now haproxy >/dev/null 2>&1 || true
  fi
fi
/usr/sbin/haproxy -v | head -1
