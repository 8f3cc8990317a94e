#!/usr/bin/env bash
# The rehearsal behind `make demo`: the whole two-machine onboarding on a local dYdX-compatible API and a
# local EVM. Two working directories stand for the two machines. cold/ holds the Ethereum key and never
# talks to a network; online/ holds no private key. They share nothing but exported QR images (files
# stand in for what a camera would see) — every payload crosses the gap as QR frames.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
PY=$BIN/python
OUT=$ROOT/demo-out
rm -rf "$OUT"
mkdir -p "$OUT/cold" "$OUT/online" "$OUT/gap"
COLD=$OUT/cold ONLINE=$OUT/online GAP=$OUT/gap
umask 077

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"; }
wait_for() {  # wait_for URL-or-FILE what
  for _ in $(seq 1 300); do
    if [[ $1 == http* ]]; then "$PY" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" \
      2>/dev/null && return 0; else [ -s "$1" ] && return 0; fi
    sleep 0.2
  done
  echo "demo: $2 did not come up (see $ONLINE/*.log)" >&2; exit 1
}
# Carry a payload from one machine to the other as QR images: export on one side, import on the other.
cross() {  # cross FROM-TOOL FROM-DIR FILE TO-TOOL TO-DIR OUT-NAME
  local frames="$GAP/$(basename "$3" .json)"
  (cd "$2" && "$BIN/$1" export "$3" --qr-dir "$frames" --html "$frames.html")
  (cd "$5" && "$BIN/$4" import --images "$frames" --out "$6")
}

API_PORT=$(free_port); RPC_PORT=$(free_port); V4_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT RPC=http://127.0.0.1:$RPC_PORT NODE=http://127.0.0.1:$V4_PORT
TRADING=$OUT/trading; mkdir -p "$TRADING"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
KEY=(--keystore key.json --password-file keystore.pass)
NET=(--network local)

step "cold: self-test against the reference vectors computed with dYdX's own client"
"$BIN/dydx-offline" selftest | tail -1

step "cold: create a new Ethereum key (keystore 0600; the mnemonic goes to a 0600 file for the demo)"
cd "$COLD"
# Demo only: passwords come from 0600 files so the run needs no typing. A real operator is prompted.
head -c 24 /dev/urandom | base64 > keystore.pass
head -c 24 /dev/urandom | base64 > vault.pass
"$BIN/dydx-offline" keygen --out key.json --password-file keystore.pass --mnemonic-out mnemonic.txt

step "cold: derive the STARK key pair and default API credentials on every network"
for net in 1 3 5 11155111 31337; do
  "$BIN/dydx-offline" derive "${KEY[@]}" --network "$net" --out "derived-$net" --vault-password-file vault.pass \
    | tail -1
done

step "cold -> online: the public key file crosses as QR frames"
cross dydx-offline "$COLD" derived-31337/public-31337-0000.json dydx-relay "$ONLINE" public-key.json
ADDRESS=$(json_field "$ONLINE/public-key.json" address)

step "online: start the local dYdX-compatible API and the local chain (chain id 31337)"
cd "$ONLINE"
"$BIN/dydx-relay" serve-local --port "$API_PORT" --db api.sqlite3 --network local \
  --deployment deployment.json > api.log 2>&1 & PIDS+=($!)
wait_for "$API/v3/time" "the local API"
OPERATOR=$("$PY" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["address"])' \
  "$API/v3/local/operator")
"$BIN/dydx-relay" serve-chain --port "$RPC_PORT" --operator "$OPERATOR" --fund "$ADDRESS:10:5000" \
  --deployment-out deployment.json > chain.log 2>&1 & PIDS+=($!)
wait_for deployment.json "the local chain"
echo "API $API (registration signer $OPERATOR); chain $RPC; $ADDRESS funded with 10 ETH and 5000 USDC"
"$BIN/dydx-relay" init-evidence-key --state state --json > evidence-key.json
RELAY_KEY=$(json_field evidence-key.json public_key)
echo "relay evidence key (the firm registers it with its auditor): $RELAY_KEY"

step "online -> cold: the API's clock, so the cold machine can correct its own"
"$BIN/dydx-relay" time --api "$API" "${NET[@]}" --out time.json
cross dydx-relay "$ONLINE" time.json dydx-offline "$COLD" time.json

step "cold: sign the onboarding request (review screen; --yes stands in for the operator's confirmation)"
cd "$COLD"
"$BIN/dydx-offline" sign onboarding "${KEY[@]}" "${NET[@]}" --out onboarding.json --yes --clock-from time.json
cross dydx-offline "$COLD" onboarding.json dydx-relay "$ONLINE" onboarding.json

step "online: verify and submit the onboarding (creates the user, account and default API key)"
cd "$ONLINE"
"$BIN/dydx-relay" submit onboarding.json --api "$API" "${NET[@]}" --state state

step "cold: sign an API-key ladder (the same call every 20 s for 5 minutes, on the API's clock)"
cd "$COLD"
"$BIN/dydx-offline" sign api-key create "${KEY[@]}" "${NET[@]}" --out api-key.json --yes --clock-from time.json \
  --ladder-minutes 5 | tail -1
cross dydx-offline "$COLD" api-key.json dydx-relay "$ONLINE" api-key.json

step "online: submit the rung inside the 30 s window, then list the keys (secrets redacted)"
cd "$ONLINE"
"$BIN/dydx-relay" submit api-key.json --api "$API" "${NET[@]}" --state state
"$BIN/dydx-relay" api-keys list --api "$API" --address "$ADDRESS" --state state

step "online: prepare the on-chain steps: registerUser, approve 1250.50 USDC, deposit 1250.50 USDC"
for action in register approve deposit; do
  amount=(); [ "$action" = register ] || amount=(--amount 1250.50)
  "$BIN/dydx-relay" prepare "$action" --rpc "$RPC" --api "$API" "${NET[@]}" --address "$ADDRESS" --state state \
    "${amount[@]}" --out "tx-$action.json" | tail -1
  cross dydx-relay "$ONLINE" "tx-$action.json" dydx-offline "$COLD" "tx-$action.json"
done

step "cold: review each transaction from its calldata and sign it"
cd "$COLD"
for action in register approve deposit; do
  "$BIN/dydx-offline" sign tx "tx-$action.json" "${KEY[@]}" "${NET[@]}" --out "signed-$action.json" --yes | tail -1
  cross dydx-offline "$COLD" "signed-$action.json" dydx-relay "$ONLINE" "signed-$action.json"
done

step "online: broadcast in order and wait for the receipts"
cd "$ONLINE"
for action in register approve deposit; do
  "$BIN/dydx-relay" broadcast "signed-$action.json" --rpc "$RPC" --state state --timeout 60
done
echo "(a replayed file is never sent twice:)"
"$BIN/dydx-relay" broadcast signed-deposit.json --rpc "$RPC" --state state | tail -1

step "what the local API now holds"
for _ in $(seq 1 50); do  # the API follows the chain; give it a moment to see the deposit
  "$BIN/dydx-relay" account --api "$API" --address "$ADDRESS" --state state --json > account.json
  [ "$(json_field account.json user isRegistered)" = True ] && [ "$(json_field account.json account quoteBalance)" != 0 ] && break
  sleep 0.2
done
"$BIN/dydx-relay" account --api "$API" --address "$ADDRESS" --state state
"$BIN/dydx-relay" api-keys list --api "$API" --address "$ADDRESS" --state state

# ---- dYdX v3 is frozen today: the escape hatch gets the deposited USDC out, air-gapped ---------------------
step "v3 freezes (rehearsal): the operator's last state update takes the deposit, then the real freeze path"
"$BIN/dydx-relay" freeze-chain --rpc "$RPC" | tail -2
POSITION=$(json_field account.json account positionId)
EXPLORER=$(json_field deployment.json explorer)

step "anyone, key-free: save the explorer's escape page for position $POSITION and check its proof"
"$PY" -c 'import sys, urllib.request
page = urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Cookie": "account=" + sys.argv[2]}))
sys.stdout.write(page.read().decode())' "$EXPLORER/escape/$POSITION" "$ADDRESS" > escape-page.html
"$BIN/dydx-audit" escape-proof escape-page.html | grep -E '^(position id|withdrawal amount|escape fact|verdict)'

step "online: prepare the escape (proof verified, frozen contract, state = the last updateState, registration)"
"$BIN/dydx-relay" escape prepare "${NET[@]}" --rpc "$RPC" --address "$ADDRESS" --explorer "$EXPLORER" \
  --position "$POSITION" --state state --out escape-request.json | grep -E '^(prepared|  tx |  max cost)'
cross dydx-relay "$ONLINE" escape-request.json dydx-offline "$COLD" escape-request.json

step "cold: verify the proof again, find the key's own STARK key, rebuild every calldata, sign"
cd "$COLD"
"$BIN/dydx-offline" sign escape escape-request.json "${KEY[@]}" "${NET[@]}" --out signed-escape.json --yes | tail -1
cross dydx-offline "$COLD" signed-escape.json dydx-relay "$ONLINE" signed-escape.json

step "online: broadcast verifyEscape, then escape (once isValid(fact)), then withdraw"
cd "$ONLINE"
"$BIN/dydx-relay" escape broadcast signed-escape.json --rpc "$RPC" --state state

# ---- dYdX v4 (dYdX Chain): the same cold key, a local chain node, a trading bot with a hot key ----------
# One v4 transaction: the relay prepares it from the node's facts, the request crosses as QR frames, the
# cold key reviews and signs it, the signed transaction crosses back, the relay broadcasts it once.
v4_tx() {  # v4_tx KIND [prepare options...]
  local kind=$1; shift
  cd "$ONLINE"
  "$BIN/dydx-relay" v4 prepare "$kind" --node "$NODE" --public-key v4-public.json --state state \
    --out "v4-$kind.json" "$@" | grep -v '^next:'
  cross dydx-relay "$ONLINE" "v4-$kind.json" dydx-offline "$COLD" "v4-$kind.json"
  cd "$COLD"
  "$BIN/dydx-offline" sign v4 "v4-$kind.json" "${KEY[@]}" --v4-network testnet --out "signed-v4-$kind.json" \
    --yes | tail -1
  cross dydx-offline "$COLD" "signed-v4-$kind.json" dydx-relay "$ONLINE" "signed-v4-$kind.json"
  cd "$ONLINE"
  "$BIN/dydx-relay" v4 broadcast "signed-v4-$kind.json" --node "$NODE" --state state --poll 0.2 \
    --trading-key-out trading-key.json
}

step "v4 cold: derive the dYdX Chain (testnet) account of the same Ethereum key"
cd "$COLD"
"$BIN/dydx-offline" derive-v4 "${KEY[@]}" --v4-network testnet --out derived-v4 --vault-password-file vault.pass \
  | tail -1
cross dydx-offline "$COLD" derived-v4/v4-public-dydx-testnet-4-0000.json dydx-relay "$ONLINE" v4-public.json
V4_ADDRESS=$(json_field "$ONLINE/v4-public.json" body address)

step "v4 online: start the local dYdX Chain node; its genesis gives $V4_ADDRESS 2000 USDC"
cd "$ONLINE"
"$BIN/dydx-relay" serve-v4 --port "$V4_PORT" --db v4-chain.sqlite3 --fund "$V4_ADDRESS:2000000000" \
  --block-time 0.2 > v4-chain.log 2>&1 & PIDS+=($!)
wait_for "$NODE/cosmos/base/tendermint/v1beta1/blocks/latest" "the local dYdX Chain node"

step "v4: deposit 500 USDC from the bank balance to subaccount 0 (cold-signed)"
v4_tx deposit --amount 500

step "v4 trading host: make a hot key (secp256k1, as dYdX's clients use); the cold key authorises it"
"$PY" "$ROOT/docs/demo_trading_host.py" keygen "$TRADING"
cp "$TRADING/hot-key.json" "$ONLINE/hot-key.json"   # a public key: any channel will do
v4_tx add-trading-key --hot-key hot-key.json
cp "$ONLINE/trading-key.json" "$TRADING/trading-key.json"

step "v4 trading host: the hot key places and cancels a short-term order, then tries to withdraw"
"$PY" "$ROOT/docs/demo_trading_host.py" trade "$TRADING" "$NODE" "$TRADING/trading-key.json"

step "v4: the cold key withdraws 100 USDC from subaccount 0 to its bank balance"
v4_tx withdraw --amount 100
"$PY" -c 'import json,sys,urllib.request
from decimal import Decimal
node, a = sys.argv[1:]
sub = json.load(urllib.request.urlopen(f"{node}/dydxprotocol/subaccounts/subaccount/{a}/0"))["subaccount"]
bank = json.load(urllib.request.urlopen(f"{node}/cosmos/bank/v1beta1/balances/{a}"))["balances"]
q = sum(int(p["quantums"]) for p in sub.get("asset_positions", []) if p.get("asset_id", 0) == 0)
b = sum(int(c["amount"]) for c in bank)
print(f"v4 subaccount 0 holds {Decimal(q).scaleb(-6)} USDC; bank balance {Decimal(b).scaleb(-6)} USDC")' "$NODE" "$V4_ADDRESS"

step "evidence: the cold key signs a bundle of everything it signed; the relay adds its signed receipts"
cd "$COLD"
"$BIN/dydx-offline" evidence bundle "${KEY[@]}" "${NET[@]}" --evidence-log dydx-evidence.jsonl --from . --out bundle | tail -2
cp -r bundle "$ONLINE/bundle"   # a directory of public files: carried on a USB stick
cd "$ONLINE"
"$BIN/dydx-relay" evidence add-receipts bundle --state state | tail -1
"$BIN/dydx-relay" evidence pack bundle --out "$OUT/evidence.tar" | tail -1

step "evidence (v4): a bundle is per network: the v4 (testnet) signatures, their requests and the v4 public file"
cd "$COLD"
"$BIN/dydx-offline" evidence bundle "${KEY[@]}" --network 11155111 --evidence-log dydx-evidence.jsonl --from . \
  --from derived-v4 --out bundle-v4 | tail -2
cp -r bundle-v4 "$ONLINE/bundle-v4"
cd "$ONLINE"
"$BIN/dydx-relay" evidence add-receipts bundle-v4 --state state | tail -1
"$BIN/dydx-relay" evidence pack bundle-v4 --out "$OUT/evidence-v4.tar" | tail -1

step "auditor: verify the bundle with public data only"
VERIFY=("$BIN/dydx-audit" verify "$OUT/evidence.tar" --relay-key "$RELAY_KEY" --address "$ADDRESS")
"${VERIFY[@]}"
echo "(and the v4 bundle:)"
"$BIN/dydx-audit" verify "$OUT/evidence-v4.tar" --relay-key "$RELAY_KEY" --address "$ADDRESS" | grep -E '^(PASS transaction|PASS relay-receipts|FAIL|verdict)'
"$BIN/dydx-audit" report "$OUT/evidence.tar" --html "$OUT/evidence-report.html" --relay-key "$RELAY_KEY" \
  --address "$ADDRESS" | tail -1

printf '\nThe demo left its files in %s (cold/, online/, and gap/ with every QR frame that crossed).\n' "$OUT"
printf 'Verify the evidence yourself:\n  .venv/bin/dydx-audit verify demo-out/evidence.tar --relay-key %s --address %s\n' \
  "$RELAY_KEY" "$ADDRESS"
