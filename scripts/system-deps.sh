#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing and we are root.
# Without root it only says what is missing; the tests that need them then skip.
set -euo pipefail

packages=()
# libzbar0: the system library behind pyzbar, the second QR decoding engine.
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || packages+=(libzbar0)
# chromium: the real browser of tests/browser/ (driven by the playwright package; its own
# browser download is not used). Tests find it at /usr/bin/chromium.
[ -x /usr/bin/chromium ] || packages+=(chromium)
# postgresql: a throwaway server for the Django ORM backend's PostgreSQL tests.
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || packages+=(postgresql)
# mariadb-server: a throwaway server for the mysql:// backend's rows (tests/backends/sql_servers.py).
[ -x /usr/sbin/mariadbd ] || packages+=(mariadb-server)
# wrk: the HTTP load generator of benchmarks/bench_http.py (the tests do not need it).
command -v wrk >/dev/null 2>&1 || packages+=(wrk)

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; missing: ${packages[*]} (tests that need them skip)" >&2
  exit 0
fi
echo "system-deps: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
