#!/usr/bin/env bash
# System packages the project needs on Debian: a Python with venv, a compiler and GMP for packages that
# build from source, libzbar for the second QR backend, Chromium for the HTML page tests, age for the sealed
# handoff tests.
# Installs what is missing when it can (root or sudo); otherwise says what to install and goes on.
set -euo pipefail

need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/gmp.h ] || [ -e /usr/include/x86_64-linux-gnu/gmp.h ] || need+=(libgmp-dev)
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so' || need+=(libzbar0)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
# age (age, age-keygen): the standard tool the trading host decrypts a sealed handoff with; the tests use it too.
command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1 || need+=(age)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: please install: ${need[*]} (no apt-get here)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "sysdeps: run as root or install: ${need[*]}" >&2; exit 0; fi
fi
echo "sysdeps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
