#!/usr/bin/env sh
# Debian packages the tests and benchmarks need: chromium (browser tests), wrk (benchmarks).
# Installs only what is missing; run by `make test` / `make bench`.
set -eu
missing=""
for pkg in "$@"; do
  case "$pkg" in
    chromium) [ -x /usr/bin/chromium ] || missing="$missing chromium" ;;
    wrk) command -v wrk >/dev/null 2>&1 || missing="$missing wrk" ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing Debian packages:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
