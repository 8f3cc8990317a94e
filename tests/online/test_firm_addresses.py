"""Finding 10(c): the relay pins the firm's addresses (state and --expect-address) and refuses payloads of
any other key, whatever their own origin signature says."""

from __future__ import annotations

from pathlib import Path

from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret
from tests.offline.test_sign_tx import LOCAL, ApproveCall, request

FIRM = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # account 0 of the test mnemonic


def _onboarding(tmp_path: Path, key: list[str], name: str) -> Path:
    out = tmp_path / f"{name}.json"
    r = run_tool(
        "dydx-offline", "sign", "onboarding", *key, "--network", "31337", "--yes", "--out", out,
        "--evidence-log", tmp_path / f"{name}.log",
    )  # fmt: skip
    assert r.code == 0, r
    return out


def test_payloads_of_keys_other_than_the_pinned_firm_addresses_are_refused(
    tmp_path: Path, keystore, figure
) -> None:
    from dydx_airgap.online.rehearsal.v3_api import start_local_api

    ks, pw, other = keystore
    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    firm_payload = _onboarding(tmp_path, ["--mnemonic-file", str(mnemonic)], "firm")
    assert decode_payload(firm_payload.read_bytes()).address == FIRM
    foreign = _onboarding(tmp_path, ["--keystore", str(ks), "--password-file", str(pw)], "foreign")
    pinned_state, flag_state = tmp_path / "pinned", tmp_path / "flag"
    r = run_tool("dydx-relay", "pin-address", FIRM.lower(), "--state", pinned_state)
    assert r.code == 0 and FIRM in r.out, r
    # A signed-tx of the foreign key: well-formed and origin-signed, just not the firm's.
    req = tmp_path / "approve-request.json"
    req.write_bytes(
        request("approve", to=LOCAL.usdc, data=ApproveCall(LOCAL.stark_perpetual, 10**6).encode())
    )
    signed = tmp_path / "approve-signed.json"
    r = run_tool(
        "dydx-offline", "sign", "tx", req, "--keystore", ks, "--password-file", pw, "--network", "31337",
        "--yes", "--out", signed, "--evidence-log", tmp_path / "tx.log",
    )  # fmt: skip
    assert r.code == 0, r
    refused = 0
    with start_local_api(chain_id=31337) as api:
        runs = [
            ("submit", foreign, "--api", api.url, "--network", "31337", "--state", pinned_state),
            ("submit", foreign, "--api", api.url, "--network", "31337", "--state", flag_state,
             "--expect-address", FIRM),
            ("broadcast", signed, "--rpc", "http://127.0.0.1:9", "--state", pinned_state),
        ]  # fmt: skip
        for args in runs:
            r = run_tool("dydx-relay", *args)
            if r.code != 0 and "not a pinned firm address" in r.err:
                assert_clean_failure(r, other)
                refused += 1
        accepted = run_tool(
            "dydx-relay",
            "submit",
            firm_payload,
            "--api",
            api.url,
            "--network",
            "31337",
            "--state",
            pinned_state,
        )
    figure(f"relay: payloads of unpinned keys refused in {refused} of {len(runs)} (submit x2, broadcast)")
    assert refused == len(runs)
    assert accepted.code == 0, accepted
