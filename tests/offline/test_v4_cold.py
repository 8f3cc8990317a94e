"""dYdX v4 on the cold machine, through the real `dydx-offline` in subprocesses: derive-v4, sign v4, selftest.

Requests are built the way the relay will build them (a v4-tx-request envelope around the vectors'
request fields); the signed answers must be the vectors' bytes. Bad requests are written as raw envelopes,
bypassing our own validator, so the cold side's refusal is what is tested.
"""

from __future__ import annotations

import copy
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dydx_airgap.offline.keys.vault import read_vault
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload, decode_payload, new_id, new_payload
from tests.conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret
from tests.dydx_v4_vectors import derivation_by_account, v4

ANVIL0 = derivation_by_account("anvil-0/1")
UPSTREAM = v4()["upstream_js_vector"]
MAINNET_TXS = {t["name"].split("/", 1)[1]: t for t in v4()["txs"] if t["name"].startswith("dydx-mainnet-1/")}
OTHER = "dydx1r236tts72m4hrcwm7q2zlnwlt2z3xgdc9z7s9x"  # anvil-1's account: not the cold account


def request_fields(tx: dict[str, Any]) -> dict[str, Any]:
    """A vector's request as the relay sends it: authenticator bytes in base64 only."""
    fields = copy.deepcopy(tx["request"])
    for message in fields["messages"]:
        message["value"].pop("data_hex", None)
        message["value"].pop("data_utf8", None)
    return fields


def write_request(
    path: Path, fields: dict[str, Any], latest: int | None = None, validate: bool = True
) -> Path:
    body = {
        "tx": fields,
        "latest_height": latest or max(1, fields["timeout_height"] - 3600),
        "source": "test",
    }
    if validate:
        payload = new_payload(
            "v4-tx-request", 1, ANVIL0["ethereum_address"], body, expires_in=timedelta(hours=1)
        )
    else:  # a hostile relay: an envelope our own validator would never produce
        created = now_utc()
        payload = Payload(
            "v4-tx-request", new_id(), 1, ANVIL0["ethereum_address"], iso_ms(created),
            iso_ms(created + timedelta(hours=1)), None, body,
        )  # fmt: skip
    path.write_bytes(payload.to_bytes())
    return path


@pytest.fixture
def cold(tmp_path: Path) -> dict[str, Path]:
    return {
        "mn": write_secret(tmp_path / "mn", TEST_MNEMONIC),
        "v4mn": write_secret(tmp_path / "v4mn", UPSTREAM["mnemonic"]),
        "vp": write_secret(tmp_path / "vp", "vault pass phrase"),
        "dir": tmp_path,
    }


def sign(cold: dict[str, Path], request: Path, *extra: str, out: str = "signed.json") -> Any:
    return run_tool(
        "dydx-offline", "sign", "v4", request, "--mnemonic-file", cold["mn"], "--v4-network", "mainnet",
        "--out", out, "--yes", "--evidence-log", "log.jsonl", *extra, cwd=cold["dir"],
    )  # fmt: skip


def _all_bytes(directory: Path, skip: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file() and p != skip)


def test_derive_v4_from_an_ethereum_mnemonic_gives_the_reference_account_and_keeps_secrets_in_the_vault(
    cold: dict[str, Path],
) -> None:
    r = run_tool(
        "dydx-offline", "derive-v4", "--mnemonic-file", cold["mn"], "--v4-network", "mainnet",
        "--out", "d", "--vault-password-file", cold["vp"], cwd=cold["dir"],
    )  # fmt: skip
    assert r.code == 0, r.err
    assert ANVIL0["dydx_address"] in r.out and ANVIL0["noble_address"] in r.out
    public = decode_payload((cold["dir"] / "d" / "v4-public-dydx-mainnet-1-0000.json").read_bytes())
    assert public.kind == "v4-public-key" and public.address == ANVIL0["ethereum_address"]
    assert public.body["public_key"] == ANVIL0["public_key_compressed"]
    vault = cold["dir"] / "d" / "vault.dydx-vault"
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    (entry,) = read_vault(vault, Secret("vault pass phrase"))["v4_accounts"]
    assert entry["onboarding_signature"] == ANVIL0["onboarding_signature"]
    assert entry["mnemonic"] == ANVIL0["mnemonic"]
    # The secrets are nowhere else: not in any other file, not on the screen.
    elsewhere = _all_bytes(cold["dir"], vault) + (r.out + r.err).encode()
    for secret in (ANVIL0["onboarding_signature"], ANVIL0["mnemonic"], ANVIL0["mnemonic"].split()[0] + " "):
        assert secret.encode() not in elsewhere.replace(TEST_MNEMONIC.encode(), b"")


def test_derive_v4_from_a_v4_mnemonic_origin_signs_with_the_v4_key_and_adds_to_the_same_vault(
    cold: dict[str, Path],
) -> None:
    base = ["--out", "d", "--vault-password-file", cold["vp"]]
    first = run_tool("dydx-offline", "derive", "--mnemonic-file", cold["mn"], "--network", "1", *base,
                     cwd=cold["dir"])  # fmt: skip
    assert first.code == 0, first.err
    r = run_tool("dydx-offline", "derive-v4", "--v4-mnemonic-file", cold["v4mn"], "--v4-network", "testnet",
                 *base, cwd=cold["dir"])  # fmt: skip
    assert r.code == 0, r.err
    public = decode_payload((cold["dir"] / "d" / "v4-public-dydx-testnet-4-0000.json").read_bytes())
    assert public.body["address"] == UPSTREAM["dydx_address"]
    assert public.body["key_source"] == "v4-mnemonic" and public.body["onboarding_eip712_chain_id"] is None
    contents = read_vault(cold["dir"] / "d" / "vault.dydx-vault", Secret("vault pass phrase"))
    assert len(contents["accounts"]) == 1  # the v3 section survived
    (entry,) = contents["v4_accounts"]
    assert entry["mnemonic"] == UPSTREAM["mnemonic"] and entry["onboarding_signature"] is None


def test_derive_v4_refuses_two_key_sources_and_a_bad_mnemonic_without_writing(cold: dict[str, Path]) -> None:
    r = run_tool("dydx-offline", "derive-v4", "--mnemonic-file", cold["mn"], "--v4-mnemonic-file",
                 cold["v4mn"], "--v4-network", "mainnet", "--out", "d", "--vault-password-file", cold["vp"],
                 cwd=cold["dir"])  # fmt: skip
    assert_clean_failure(r, "exactly one key source")
    bad = write_secret(cold["dir"] / "bad", " ".join([*UPSTREAM["mnemonic"].split()[:-1], "abandon"]))
    r = run_tool("dydx-offline", "derive-v4", "--v4-mnemonic-file", bad, "--v4-network", "mainnet", "--out",
                 "d", "--vault-password-file", cold["vp"], cwd=cold["dir"])  # fmt: skip
    assert_clean_failure(r, "checksum")
    assert "abandon" not in r.err
    assert not (cold["dir"] / "d").exists()


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, t in MAINNET_TXS.items()
        if t["request"]["timeout_height"] and t["annotations"]["account"] == "anvil-0/1"
    ],
)
def test_sign_v4_answers_with_the_reference_tx_bytes(cold: dict[str, Path], name: str) -> None:
    tx = MAINNET_TXS[name]
    fields = request_fields(tx)
    extra: list[str] = []
    for message in fields["messages"]:
        value = message["value"]
        for key in ("recipient", "to_address"):
            if isinstance(value.get(key), str) and value[key] != fields["signer_address"]:
                extra += ["--allow-recipient", value[key]]
    r = sign(cold, write_request(cold["dir"] / "req.json", fields), *extra)
    assert r.code == 0, r.err
    signed = decode_payload((cold["dir"] / "signed.json").read_bytes())
    assert signed.body["tx_raw"] == tx["tx_raw"]
    assert signed.body["tx_hash"] == tx["txhash"]
    assert signed.body["sign_doc_sha256"] == tx["sign_doc_sha256"]
    (entry,) = [json.loads(line) for line in (cold["dir"] / "log.jsonl").read_text().splitlines()]
    assert (entry["kind"], entry["tx_hash"], entry["sign_doc_sha256"]) == (
        "v4-signed-tx", tx["txhash"], tx["sign_doc_sha256"],
    )  # fmt: skip


def test_review_shows_exact_usdc_the_escaped_memo_and_a_foreign_recipient_in_red(
    cold: dict[str, Path],
) -> None:
    fields = request_fields(MAINNET_TXS["withdraw_subaccount_0_to_own_address"])
    fields["messages"][0]["value"]["recipient"] = OTHER
    fields["messages"][0]["value"]["quantums"] = 1_000_001
    fields["memo"] = "pay\u202eevil"
    request = write_request(cold["dir"] / "req.json", fields)
    refused = sign(cold, request)
    assert_clean_failure(refused, "--allow-recipient " + OTHER)
    assert not (cold["dir"] / "signed.json").exists() and not (cold["dir"] / "log.jsonl").exists()
    r = sign(cold, request, "--allow-recipient", OTHER)
    assert r.code == 0, r.err
    assert "1.000001 USDC (1000001 quantums)" in r.out
    assert "pay\\u{202e}evil" in r.out and "\u202e" not in r.out
    assert "\x1b[31m" in r.out or "NOT this account" in r.out
    (entry,) = [json.loads(line) for line in (cold["dir"] / "log.jsonl").read_text().splitlines()]
    assert entry["overrides"] == [f"allow-recipient {OTHER}"]


def _unsafe_case() -> dict[str, Any]:
    return v4()["unsafe_authenticators"][0]["tx_if_signed"]


def test_an_unsafe_authenticator_is_refused_by_default_and_signed_only_with_the_recorded_flag(
    cold: dict[str, Path],
) -> None:
    fields = request_fields(_unsafe_case())
    fields["timeout_height"] = 58_000_000
    request = write_request(cold["dir"] / "req.json", fields)
    r = sign(cold, request)
    assert_clean_failure(r, "unsafe", "--allow-unsafe-authenticator")
    assert not (cold["dir"] / "signed.json").exists()
    r = sign(cold, request, "--allow-unsafe-authenticator")
    assert r.code == 0, r.err
    assert "UNSAFE" in r.out
    (entry,) = [json.loads(line) for line in (cold["dir"] / "log.jsonl").read_text().splitlines()]
    assert entry["overrides"] == ["allow-unsafe-authenticator"]
    assert entry["policy"]["allow_unsafe_authenticator"] is True


def _bad(mutate: str) -> tuple[dict[str, Any], int | None]:
    fields = request_fields(MAINNET_TXS["withdraw_subaccount_0_to_own_address"])
    latest = None
    if mutate == "address":
        fields = request_fields(v4()["txs"][5])  # anvil-1's withdrawal: another account
        fields["signer_address"] = OTHER
    elif mutate == "chain":
        fields["chain_id"] = "dydx-testnet-4"
    elif mutate == "message":
        fields["messages"][0]["type_url"] = "/cosmos.authz.v1beta1.MsgGrant"
    elif mutate == "timeout":
        fields["timeout_height"] = 0
        latest = 100
    elif mutate == "timeout-far":
        latest = fields["timeout_height"] - 10_000_000
    elif mutate == "fee":
        fields["fee"]["amount"][0]["amount"] = "100000001"
    elif mutate == "memo":
        fields["memo"] = "please sign dYdX Chain Onboarding"
    elif mutate == "authenticator-size":
        auth = request_fields(MAINNET_TXS["add_authenticator_recipe_hot2"])
        import base64

        auth["messages"][0]["value"]["data_base64"] = base64.b64encode(b"[" + b" " * 1100 + b"]").decode()
        fields = auth
    elif mutate == "authenticator-json":
        auth = request_fields(MAINNET_TXS["add_authenticator_recipe_hot2"])
        auth["messages"][0]["value"]["data_base64"] = "W3sidHlwZSI6"  # '[{"type":' cut short
        fields = auth
    return fields, latest


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        ("address", "signer"),
        ("chain", "chain id"),
        ("message", "not a message this toolkit signs"),
        ("timeout", "timeout height"),
        ("timeout-far", "--max-timeout-blocks"),
        ("fee", "--max-fee"),
        ("memo", "dYdX Chain Onboarding"),
        ("authenticator-size", "1024"),
        ("authenticator-json", "not json"),
    ],
)
def test_a_bad_v4_request_is_refused_in_one_line_and_nothing_is_signed_or_written(
    cold: dict[str, Path], mutate: str, fragment: str
) -> None:
    fields, latest = _bad(mutate)
    r = sign(cold, write_request(cold["dir"] / "req.json", fields, latest, validate=False))
    assert_clean_failure(r, fragment)
    assert not (cold["dir"] / "signed.json").exists() and not (cold["dir"] / "log.jsonl").exists()


@pytest.mark.parametrize("content", [b"{not json", b"", json.dumps({"format": "dydx-airgap/1"}).encode()])
def test_a_malformed_request_file_is_refused_in_one_line(cold: dict[str, Path], content: bytes) -> None:
    (cold["dir"] / "req.json").write_bytes(content)
    assert_clean_failure(sign(cold, cold["dir"] / "req.json"))
    assert not (cold["dir"] / "signed.json").exists()


def test_a_v4_signed_tx_with_a_flipped_protobuf_byte_does_not_decode(cold: dict[str, Path]) -> None:
    r = sign(
        cold,
        write_request(
            cold["dir"] / "req.json", request_fields(MAINNET_TXS["withdraw_subaccount_0_to_own_address"])
        ),
    )
    assert r.code == 0, r.err
    envelope = json.loads((cold["dir"] / "signed.json").read_bytes())
    raw = bytearray(bytes.fromhex(envelope["body"]["tx_raw"]))
    raw[1] ^= 0x40  # the body's length prefix: no longer a valid TxRaw
    envelope["body"]["tx_raw"] = raw.hex()
    from dydx_airgap.shared.canonical_json import canonical_dumps
    from dydx_airgap.shared.errors import FormatError

    with pytest.raises(FormatError) as caught:
        decode_payload(canonical_dumps(envelope))
    assert "\n" not in caught.value.message


def test_selftest_takes_a_v4_vectors_file_and_fails_a_tampered_one(cold: dict[str, Path]) -> None:
    data = v4()
    good = cold["dir"] / "v4.json"
    good.write_text(json.dumps(data))
    r = run_tool("dydx-offline", "selftest", "--vectors", good)
    assert r.code == 0, r.err
    assert "30 passed, 0 failed" in r.out
    data["txs"][3]["signature"] = data["txs"][3]["signature"][:-2] + "00"
    data["derivations"][0]["noble_address"] = data["derivations"][1]["noble_address"]
    data["safe_authenticators"][0]["safe_for_cold_signer"] = False
    data["hot_keys"][0]["surprise"] = 1
    bad = cold["dir"] / "bad.json"
    bad.write_text(json.dumps(data))
    r = run_tool("dydx-offline", "selftest", "--vectors", bad)
    assert r.code != 0
    for failed in ("signature", "noble_address", "safe_for_cold_signer", "surprise (unknown field)"):
        assert failed in r.out, failed
    assert "26 passed, 4 failed" in r.out
