"""Finding 8: values from a hostile API reach the relay's terminal escaped: control and bidi characters
cannot rewrite what the operator reads (the review screens on the cold side already held this)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dydx_airgap.online.relay.credentials import CredentialStore, StoredKey
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from tests.conftest import run_tool
from tests.online.hostile_api import hostile_api

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
#: A cursor-up-and-erase rewrite, a carriage return, a right-to-left override, an OSC title, a bell, NEL.
INJECTIONS = ["\x1b[1A\x1b[2K", "\r999999", "\u202e", "\x1b]0;pwned\x07", "\x07", "\x85"]


def _hostile(method: str, path: str) -> bytes:
    if path.startswith("/v3/time"):
        return json.dumps({"iso": iso_ms(now_utc()), "epoch": time.time()}).encode()
    if path.startswith("/v3/users"):
        return json.dumps({"user": {"isRegistered": "yes" + "".join(INJECTIONS)}}).encode()
    evil = {"id": "acc" + INJECTIONS[0], "positionId": "7" + INJECTIONS[3], "starkKey": "0x1" + INJECTIONS[2],
            "quoteBalance": "1" + INJECTIONS[1], "equity": "2" + INJECTIONS[4] + INJECTIONS[5]}  # fmt: skip
    return json.dumps({"account": evil}).encode()


def test_hostile_api_values_are_escaped_on_the_relay_terminal(tmp_path: Path, figure) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    with hostile_api(_hostile) as url:
        CredentialStore(state).add(
            StoredKey(api=url, network_id=31337, address=ADDRESS, key="k", secret=Secret("c2VjcmV0"),
                      passphrase=Secret("pass"), label="default", created=iso_ms(now_utc()))
        )  # fmt: skip
        r = run_tool("dydx-relay", "account", "--api", url, "--address", ADDRESS, "--state", state)
    assert r.code == 0, r
    raw = [s for s in INJECTIONS if s in r.out + r.err]
    figure(
        f"display: hostile control/bidi sequences reaching the relay's terminal raw: {len(raw)} of "
        f"{len(INJECTIONS)}"
    )
    assert not raw, raw
    assert "\\u{001b}" in r.out and "\\u{202e}" in r.out  # escaped, visible
