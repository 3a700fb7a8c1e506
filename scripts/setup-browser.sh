#!/usr/bin/env bash
# Installs Debian's Chromium for the headless-browser test of the dedup HTML report (called by
# `make test`; idempotent). Set CHROMIUM=/path/to/chromium to use another build.
set -euo pipefail
if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "setup-browser: /usr/bin/chromium missing and no root or sudo to install Debian's chromium package" >&2
    exit 1
fi
echo "setup-browser: installing Debian's chromium (headless test of the HTML report)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
