#!/usr/bin/env bash
# The rehearsal behind `make demo`. Two working directories stand for the two machines: cold/ holds the
# Ethereum key and never talks to a network; online/ only ever sees what cold/ exported.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
OUT=$ROOT/demo-out
rm -rf "$OUT"
mkdir -p "$OUT/cold" "$OUT/online"
umask 077

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "cold: self-test against the reference vectors computed with dYdX's own client"
"$BIN/dydx-offline" selftest

step "cold: create a new Ethereum key (keystore 0600; mnemonic written to a 0600 file for the demo)"
cd "$OUT/cold"
# Demo only: the passwords come from 0600 files so the run needs no typing. A real operator is prompted.
head -c 24 /dev/urandom | base64 > keystore.pass
head -c 24 /dev/urandom | base64 > vault.pass
"$BIN/dydx-offline" keygen --out key.json --password-file keystore.pass --mnemonic-out mnemonic.txt

for net in 1 3 5 11155111; do
  step "cold: derive the STARK key pair and API credentials on network $net"
  "$BIN/dydx-offline" derive --keystore key.json --password-file keystore.pass --network "$net" \
    --out "derived-$net" --vault-password-file vault.pass
done

step "what may leave the cold machine: public files only (the vaults stay)"
ls -l derived-*/public-*.json
printf '\nThe demo left its files in %s\n' "$OUT"
