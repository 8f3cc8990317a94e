"""Accounts registered with any of the six STARK key variants: the whole v3 flow with `--variant`, and
`recover` finding accounts, networks and variants at scale.

The flow runs the real tools as a user would (subprocesses) against the real local API and the real local
chain on 127.0.0.1: derive, sign onboarding and api-key create, submit, prepare register / approve /
deposit, sign tx, broadcast. The chain's StarkPerpetual then holds the variant's STARK key, not the web
app's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.recover import variant_public_keys
from dydx_airgap.offline.keys.vault import read_vault
from dydx_airgap.shared.dydx_v3.variants import ALL_VARIANTS, DEFAULT_VARIANT, StarkKeyVariant
from dydx_airgap.shared.secret import Secret
from tests.conftest import assert_clean_failure, run_tool

CHAIN_ID = 31337
MNEMONIC = "test test test test test test test test test test test junk"
NON_DEFAULT = [v for v in ALL_VARIANTS if v is not DEFAULT_VARIANT]
#: dydx3-python differs from the web app only when the "dYdX STARK Key" signature starts with byte 00:
#: account 467 of this mnemonic on chain 31337 is the first such account (found by search, checked below).
ACCOUNT_OF = {v: i + 1 for i, v in enumerate(NON_DEFAULT)} | {StarkKeyVariant.DYDX3_PYTHON: 467}


def account_key(index: int) -> ColdKey:
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    seed = seed_from_mnemonic(MNEMONIC, "")
    return ColdKey(Secret(bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{index}"))))


@dataclass
class World:
    api_url: str
    rpc_url: str
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from dydx_airgap.online.rehearsal.evm import start_local_chain
    from dydx_airgap.online.rehearsal.v3_api import start_local_api

    root = tmp_path_factory.mktemp("variants")
    deployment = root / "deployment.json"
    funded = [f"{account_key(i).address}:5:5000" for i in ACCOUNT_OF.values()]
    api = start_local_api(chain_id=CHAIN_ID, deployment=deployment)
    chain = start_local_chain(
        operator=api.operator_address, chain_id=CHAIN_ID, deployment_out=deployment, fund=funded
    )
    try:
        yield World(api.url, chain.url, root)
    finally:
        api.stop()
        chain.stop()


def ok(tool: str, *args: str | Path, cwd: Path) -> str:
    r = run_tool(tool, *args, cwd=cwd, timeout=180)
    assert r.code == 0, r
    return r.out


def _eth_key_on_chain(rpc_url: str, perpetual: str, stark_key: int) -> str:
    from eth_utils import keccak, to_checksum_address

    data = keccak(text="getEthKey(uint256)")[:4] + stark_key.to_bytes(32, "big")
    body = httpx.post(
        rpc_url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_call",
            "params": [{"to": perpetual, "data": "0x" + data.hex()}, "latest"],
        },
    ).json()
    return to_checksum_address("0x" + body["result"][-40:])


@pytest.mark.parametrize("variant", NON_DEFAULT, ids=[v.value for v in NON_DEFAULT])
def test_an_account_registered_with_a_non_default_variant_onboards_and_deposits(
    world: World, variant: StarkKeyVariant, tmp_path: Path
) -> None:
    index = ACCOUNT_OF[variant]
    key = account_key(index)
    expected = dict(variant_public_keys(key, CHAIN_ID))[variant]
    web_app = dict(variant_public_keys(key, CHAIN_ID))[DEFAULT_VARIANT]
    cold, online = tmp_path / "cold", tmp_path / "online"
    cold.mkdir(mode=0o700)
    online.mkdir(mode=0o700)
    (cold / "m.txt").write_text(MNEMONIC)
    (cold / "m.txt").chmod(0o600)
    (cold / "v.pass").write_text("a vault passphrase")
    (cold / "v.pass").chmod(0o600)
    src = ["--mnemonic-file", "m.txt", "--account", str(index)]
    net = ["--network", str(CHAIN_ID)]
    flag = ["--variant", variant.value]

    ok("dydx-offline", "derive", "--mnemonic-file", "m.txt", "--accounts", str(index), *net, *flag,
       "--out", "d", "--vault-password-file", "v.pass", cwd=cold)  # fmt: skip
    public = json.loads((cold / "d" / f"public-{CHAIN_ID}-{index:04d}.json").read_text())
    assert public["body"]["key_variant"] == variant.value
    assert int(public["body"]["stark_public_key"], 16) == expected != web_app
    vault = read_vault(cold / "d" / "vault.dydx-vault", Secret("a vault passphrase"))
    assert [(e["account"], e["key_variant"]) for e in vault["accounts"]] == [(index, variant.value)]

    ok("dydx-offline", "sign", "onboarding", *src, *net, *flag, "--out", "onboarding.json", "--yes",
       cwd=cold)  # fmt: skip
    onboarding = json.loads((cold / "onboarding.json").read_text())
    assert int(onboarding["body"]["stark_public_key"], 16) == expected
    (online / "onboarding.json").write_bytes((cold / "onboarding.json").read_bytes())
    ok(
        "dydx-relay",
        "submit",
        "onboarding.json",
        "--api",
        world.api_url,
        *net,
        "--state",
        "state",
        cwd=online,
    )

    ok("dydx-offline", "sign", "api-key", "create", *src, *net, *flag, "--out", "api-key.json", "--yes",
       cwd=cold)  # fmt: skip
    (online / "api-key.json").write_bytes((cold / "api-key.json").read_bytes())
    ok("dydx-relay", "submit", "api-key.json", "--api", world.api_url, *net, "--state", "state", cwd=online)

    for action in ("register", "approve", "deposit"):
        amount = [] if action == "register" else ["--amount", "100"]
        ok("dydx-relay", "prepare", action, "--rpc", world.rpc_url, "--api", world.api_url, *net,
           "--address", key.address, "--state", "state", *amount, "--out", f"tx-{action}.json",
           cwd=online)  # fmt: skip
        (cold / f"tx-{action}.json").write_bytes((online / f"tx-{action}.json").read_bytes())
        if action == "register":
            # Without the flag the web-app key is expected: refused, and told which flag signs it.
            r = run_tool("dydx-offline", "sign", "tx", "tx-register.json", *src, *net, "--out", "x.json",
                         "--yes", cwd=cold)  # fmt: skip
            assert_clean_failure(r, f"it is this account's {variant.value} key", f"--variant {variant.value}")
            assert not (cold / "x.json").exists()
        ok("dydx-offline", "sign", "tx", f"tx-{action}.json", *src, *net, *flag,
           "--out", f"signed-{action}.json", "--yes", cwd=cold)  # fmt: skip
        (online / f"signed-{action}.json").write_bytes((cold / f"signed-{action}.json").read_bytes())
        ok("dydx-relay", "broadcast", f"signed-{action}.json", "--rpc", world.rpc_url, "--state", "state",
           "--timeout", "60", cwd=online)  # fmt: skip

    deployment = json.loads((world.root / "deployment.json").read_text())
    assert _eth_key_on_chain(world.rpc_url, deployment["starkPerpetual"], expected) == key.address
    account = json.loads(
        ok(
            "dydx-relay",
            "account",
            "--api",
            world.api_url,
            "--address",
            key.address,
            "--state",
            "state",
            "--json",
            cwd=online,
        )
    )
    assert int(account["account"]["starkKey"], 16) == expected

    # The evidence bundle's own public file carries the variant's key, so the audit's cross-checks hold.
    out = ok("dydx-offline", "evidence", "bundle", *src, *net, *flag, "--from", ".", "--out", "bundle",
             cwd=cold)  # fmt: skip
    assert "verified: every check passes" in out
    publics = sorted((cold / "bundle").rglob("public-*.json"))
    assert len(publics) == 1, [str(p.relative_to(cold)) for p in (cold / "bundle").rglob("*")]
    made = json.loads(publics[0].read_text())
    assert (made["body"]["key_variant"], int(made["body"]["stark_public_key"], 16)) == (
        variant.value,
        expected,
    )


def test_an_unknown_variant_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text(MNEMONIC)
    (tmp_path / "m.txt").chmod(0o600)
    r = run_tool("dydx-offline", "derive", "--mnemonic-file", "m.txt", "--network", "1", "--variant",
                 "metamask", "--out", "d", cwd=tmp_path)  # fmt: skip
    assert_clean_failure(r, "unknown key variant 'metamask'", "web-app", "dydx3-python")
    assert not (tmp_path / "d").exists()


# ---- recover at scale ------------------------------------------------------------------------------------


def _public(index: int, chain_id: int, variant: StarkKeyVariant) -> int:
    return dict(variant_public_keys(account_key(index), chain_id))[variant]


def test_recover_finds_each_key_by_account_network_and_variant_and_lists_those_not_found(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.txt").write_text(MNEMONIC)
    (tmp_path / "m.txt").chmod(0o600)
    legacy = _public(33, 11155111, StarkKeyVariant.LEGACY_PERSONAL_SIGN)
    rotated = _public(7, 1, StarkKeyVariant.TYPE_ROTATED)
    both = _public(0, 1, StarkKeyVariant.BOTH_ROTATED)
    absent = "0x" + "07" * 31 + "01"
    (tmp_path / "keys.txt").write_text(f"# from the explorer\n0x{both:064x}\n\n{absent}  # unknown\n")
    base = ["recover", "--mnemonic-file", "m.txt", "--accounts", "0-39", "--network", "1,sepolia"]
    r = run_tool("dydx-offline", *base, "--match", f"0x{legacy:064x}", "--match", f"{rotated:064x}"[:10],
                 "--match-file", "keys.txt", "--json", cwd=tmp_path)  # fmt: skip
    assert r.code != 0 and "1 of 4 STARK key(s) not found" in r.err, r
    report = json.loads(r.out)
    assert report["searched"]["candidates"] == 40 * 2 * 6
    found = {(m["account"], m["network_id"], m["variant"], m["how"]) for m in report["matches"]}
    assert found == {
        (33, 11155111, "legacy-personal-sign", "exact"),
        (7, 1, "type-rotated", "prefix"),
        (0, 1, "both-rotated", "exact"),
    }
    assert {m["derivation_path"] for m in report["matches"] if m["account"] == 33} == {"m/44'/60'/0'/0/33"}
    assert report["not_found"] == [absent]

    r = run_tool("dydx-offline", *base, "--match", f"0x{legacy:064x}", "--match", f"{rotated:064x}"[:10],
                 cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r
    assert "sign for it with --account 33 --network 11155111 --variant legacy-personal-sign" in r.out
    assert "prefix match (10 digits)" in r.out and "compare the whole key" in r.out


def test_recover_refuses_a_prefix_too_short_to_mean_anything(tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text(MNEMONIC)
    (tmp_path / "m.txt").chmod(0o600)
    r = run_tool("dydx-offline", "recover", "--mnemonic-file", "m.txt", "--network", "all", "--match",
                 "0x0397ab", cwd=tmp_path)  # fmt: skip
    assert_clean_failure(r, "too short to match", "at least 8")


def test_recover_on_every_core_finds_the_same_candidates_as_one_process() -> None:
    from dydx_airgap.offline.keys.recover import candidate_keys
    from dydx_airgap.offline.keys.sources import AccountKey
    from dydx_airgap.shared.dydx_v3.networks import get_network

    keys = [AccountKey(i, None, account_key(i)) for i in range(40)]
    networks = [get_network(1), get_network(5)]
    serial = candidate_keys(keys, networks, workers=1)
    parallel = candidate_keys(keys, networks, workers=2)
    assert len(serial) == 40 * 2 * 6 and serial == parallel
    assert len({c.stark_key for c in serial}) >= 40 * 2 * 5  # dydx3 repeats web-app unless a 00 byte leads


def test_recover_reports_a_match_only_after_deriving_it_again_the_plain_way() -> None:
    """A search computes its candidates with the generator table and in workers; what it tells the user to
    sign with is confirmed by one plain k·G in the parent, so a fault there cannot report a wrong key."""
    from dataclasses import replace

    from dydx_airgap.offline.keys.recover import Match, Target, confirm_matches, search
    from dydx_airgap.offline.keys.sources import AccountKey
    from dydx_airgap.shared.dydx_v3.networks import get_network
    from dydx_airgap.shared.errors import VerificationError

    keys = [AccountKey(i, None, account_key(i)) for i in range(3)]
    network = get_network(1)
    wanted = dict(variant_public_keys(keys[2].key, 1))[StarkKeyVariant("type-rotated")]
    found = search(keys, [network], [Target(f"{wanted:064x}")], workers=1)
    (match,) = found.matches
    assert (match.candidate.account, match.candidate.variant.value) == (2, "type-rotated")
    confirm_matches(keys, found.matches)  # the true match passes again
    other = dict(variant_public_keys(keys[1].key, 1))[StarkKeyVariant("type-rotated")]
    wrong = Match(match.target, "exact", replace(match.candidate, stark_key=other))
    with pytest.raises(VerificationError, match="does not derive again"):
        confirm_matches(keys, [wrong])
    moved = Match(match.target, "exact", replace(match.candidate, account=1))
    with pytest.raises(VerificationError, match="account 1, variant type-rotated"):
        confirm_matches(keys, [moved])
