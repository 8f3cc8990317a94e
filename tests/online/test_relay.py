"""The relay against the real local dYdX API on 127.0.0.1: checks, submission, journal, retries, faults.

Payloads are built here with eth-account (as the cold side would sign them); everything else is the real
code: the local API (``start_local_api``), the relay's Python API and its ``dydx-relay`` command.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import socketserver
import stat
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.rehearsal.v3_api import Fault, FaultPlan, ScheduledFault, start_local_api
from dydx_airgap.online.relay.api_client import ApiClient
from dydx_airgap.online.relay.journal import Journal
from dydx_airgap.online.relay.ladder import Rung, choose_rung
from dydx_airgap.online.relay.submit import RelayOptions, SubmitResult, submit_payload
from dydx_airgap.online.relay.target import resolve_api_target
from dydx_airgap.online.relay.timepayload import make_time_payload
from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.dydx_v3.derivation import (
    api_credentials_from_onboarding_signature,
    stark_private_key_from_signature,
)
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    onboarding_action_digest,
    onboarding_action_message,
    typed_data,
)
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import (
    AirgapError,
    FormatError,
    InputError,
    PolicyError,
    RemoteError,
    SignatureError,
)
from dydx_airgap.shared.stark import private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.timestamps import iso_ms, now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import decode_payload, new_payload, seal_of
from tests.conftest import BIN, assert_clean_failure, origin_signer_for, run_tool

CHAIN = 11155111  # the local API's default network (Sepolia)
FAULT_RUNS_PER_MIX = int(os.environ.get("RELAY_FAULT_RUNS", "50"))  # x 4 mixes = 200 schedules


# ---- building signed payloads, as the cold side would ----------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key: str
    address: str

    @classmethod
    def from_seed(cls, seed: str) -> Signer:
        key = "0x" + hashlib.sha256(seed.encode()).hexdigest()
        return cls(key, Account.from_key(key).address)

    def typed(self, chain: int, message: dict[str, str]) -> str:
        signed = Account.sign_typed_data(self.key, full_message=typed_data(chain, message))
        return "0x" + bytes(signed.signature).hex() + "00"

    def stark_point(self, chain: int = CHAIN) -> tuple[int, int]:
        sig = self.typed(chain, onboarding_action_message(chain, STARK_KEY_ACTION))
        return private_key_to_ec_point_on_stark_curve(
            stark_private_key_from_signature(bytes.fromhex(sig[2:]))
        )

    def onboarding_signature(self, chain: int = CHAIN) -> str:
        return self.typed(chain, onboarding_action_message(chain, ONBOARDING_ACTION))

    def onboarding(self, chain: int = CHAIN, **envelope: Any) -> bytes:
        x, y = self.stark_point(chain)
        body = {
            "account": 0,
            "method": "POST",
            "request_path": "/v3/onboarding",
            "body": json.dumps({"starkKey": hex(x), "starkKeyYCoordinate": hex(y)}, separators=(",", ":")),
            "signature": self.onboarding_signature(chain),
            "stark_public_key": f"0x{x:064x}",
            "stark_public_key_y": f"0x{y:064x}",
        }
        envelope.setdefault("expires_in", timedelta(hours=1))
        return new_payload(
            "onboarding-request", chain, self.address, body, signer=origin_signer_for(self.key), **envelope
        ).to_bytes()

    def ladder(
        self,
        action: str,
        offsets: tuple[float, ...] = (-40, -10, 20, 50),
        *,
        api_key: str | None = None,
        chain: int = CHAIN,
        base: datetime | None = None,
    ) -> bytes:
        method, path = {
            "api-key-create": ("POST", "/v3/api-keys"),
            "api-key-delete": ("DELETE", f"/v3/api-keys?apiKey={api_key}"),
            "recovery": ("GET", "/v3/recovery"),
        }[action]
        base = base or now_utc()
        stamps = [base + timedelta(seconds=s) for s in offsets]
        rungs = []
        for moment in stamps:
            ts = iso_ms(moment)
            message = {"method": method, "requestPath": path, "body": "{}", "timestamp": ts}
            rungs.append({"timestamp": ts, "signature": self.typed(chain, message)})
        window = timedelta(seconds=30)
        body = {
            "action": action,
            "method": method,
            "request_path": path,
            "body": "{}",
            "rungs": rungs,
            "valid_from": iso_ms(stamps[0] - window),
            "valid_until": iso_ms(stamps[-1] + window),
        }
        created = min(base, stamps[0])
        payload = new_payload(
            "eth-private-request",
            chain,
            self.address,
            body,
            now=created,
            expires=stamps[-1] + window,
            signer=origin_signer_for(self.key),
        )
        return payload.to_bytes()


def tamper(data: bytes, change: Any, *, reseal: bool = True, resign_with: str | None = None) -> bytes:
    """Edit a payload as an attacker would: the seal is an unkeyed hash, so it is simply recomputed. Only a
    test holding the cold key (``resign_with``) can also renew the origin signature."""
    value = json.loads(data)
    change(value)
    if resign_with is not None:
        content = {k: v for k, v in value.items() if k not in ("seal", "origin")}
        digest = hashlib.sha256(canonical_dumps(content)).digest()
        value["origin"] = origin_signer_for(resign_with)(value["network_id"], value["address"], digest)
    if reseal:
        value.pop("seal")
        value["seal"] = seal_of(value)
    return canonical_dumps(value)


def flip_hex(text: str, byte_index: int) -> str:
    raw = bytearray.fromhex(text[2:])
    raw[byte_index] ^= 0x01
    return "0x" + raw.hex()


def secrets_of(signer: Signer) -> list[str]:
    """What must never appear in any output: the default API secret, passphrase, the signature seeding it."""
    creds = api_credentials_from_onboarding_signature(bytes.fromhex(signer.onboarding_signature()[2:]))
    return [creds.secret.reveal(), creds.passphrase.reveal(), signer.onboarding_signature()[2:]]


def options(state: Path, **changes: Any) -> RelayOptions:
    base: dict[str, Any] = {
        "state_dir": state,
        "timeout": 5.0,
        "retry": RetryPolicy(base_delay=0.001, max_delay=0.01),
    }
    base.update(changes)
    return RelayOptions(**base)


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/v3/local/stats", timeout=5).json()


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    handle = start_local_api(chain_id=CHAIN)
    yield handle
    handle.stop()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def relay(*args: Any, timeout: float = 60) -> Any:
    return run_tool("dydx-relay", *args, timeout=timeout)


# ---- onboarding end to end (the real command in a subprocess) ---------------------------------------------


def test_onboarding_creates_user_stores_credentials_and_replay_sends_nothing(
    api: Any, state: Path, tmp_path: Path
) -> None:
    signer = Signer.from_seed("relay/onboarding")
    payload_file = tmp_path / "onboarding.json"
    payload_file.write_bytes(signer.onboarding())
    assert not api.store.get_user(signer.address)

    first = relay(
        "submit", payload_file, "--api", api.url, "--network", "sepolia", "--state", state, "--json"
    )
    assert first.code == 0, first
    result = json.loads(first.out)
    assert result["outcome"] == "accepted" and result["sent"] is True
    user = api.store.get_user(signer.address)
    assert user is not None
    account = api.store.get_account(signer.address, 0)
    assert result["details"]["position_id"] == str(account.position_id)
    assert result["details"]["account_id"] == account.id
    x, _ = signer.stark_point()
    assert int(result["details"]["stark_key"], 16) == x == int(account.stark_key, 16)

    # The credentials: 0600 in a 0700 directory, the ones dYdX derives from the onboarding signature.
    expected = api_credentials_from_onboarding_signature(bytes.fromhex(signer.onboarding_signature()[2:]))
    assert result["details"]["api_key"] == expected.key
    creds_file = Path(result["credentials_file"])
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    stored = json.loads(creds_file.read_text())["keys"]
    assert [(k["key"], k["secret"], k["passphrase"]) for k in stored] == [
        (expected.key, expected.secret.reveal(), expected.passphrase.reveal())
    ]
    journal_file = Path(result["journal"])
    assert stat.S_IMODE(journal_file.stat().st_mode) == 0o600

    # Replaying the same file, and the same signature in a new envelope, sends nothing at all.
    before = stats(api.url)
    again = relay("submit", payload_file, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert again.code == 0, again
    assert "already accepted" in again.out
    rewrapped = tmp_path / "rewrapped.json"
    rewrapped.write_bytes(signer.onboarding())
    assert decode_payload(rewrapped.read_bytes()).id != decode_payload(payload_file.read_bytes()).id
    third = relay("submit", rewrapped, "--api", api.url, "--network", str(CHAIN), "--state", state, "--json")
    assert third.code == 0 and json.loads(third.out)["outcome"] == "already-accepted"
    assert stats(api.url) == before

    # No secret anywhere but the credentials file.
    everything = first.out + first.err + again.out + again.err + third.out + third.err
    everything_bytes = journal_file.read_bytes()
    for secret in secrets_of(signer):
        assert secret not in everything
        assert secret.encode() not in everything_bytes
    with Journal.open(state) as journal:
        entries = journal.submissions()
    assert [(e.action, e.state) for e in entries] == [("onboarding", "accepted")]


def test_lost_journal_onboarding_is_recognised_by_its_signature(api: Any, tmp_path: Path) -> None:
    """A second relay (empty state) gets 409 and proves, with the derived credentials, it was this request."""
    signer = Signer.from_seed("relay/second-relay")
    data = signer.onboarding()
    first = submit_payload(data, api.url, CHAIN, options(tmp_path / "a"))
    assert first.outcome == "accepted"
    second = submit_payload(data, api.url, CHAIN, options(tmp_path / "b"))
    assert second.outcome == "accepted-after-check"
    assert second.details["api_key"] == first.details["api_key"]
    assert second.details["position_id"] == first.details["position_id"]


def test_user_onboarded_with_another_signature_is_refused(api: Any, tmp_path: Path) -> None:
    """The same address onboarded with an eth_sign-style (type 01) signature: other default credentials.

    Our payload then gets 409, and the credentials its signature implies do not authenticate: refused and
    journaled as such, never reported as success.
    """
    signer = Signer.from_seed("relay/other-signature")
    digest = onboarding_action_digest(CHAIN, ONBOARDING_ACTION)
    signed = Account.sign_message(encode_defunct(primitive=digest), signer.key)
    decimal_signature = "0x" + bytes(signed.signature).hex() + "01"
    first = tamper(
        signer.onboarding(), lambda v: v["body"].update(signature=decimal_signature), resign_with=signer.key
    )
    assert submit_payload(first, api.url, CHAIN, options(tmp_path / "a")).outcome == "accepted"
    state = tmp_path / "b"
    with pytest.raises(RemoteError, match="not from this onboarding signature") as caught:
        submit_payload(signer.onboarding(), api.url, CHAIN, options(state))
    assert "\n" not in caught.value.message
    with Journal.open(state) as journal:
        assert [(e.action, e.state) for e in journal.submissions()] == [("onboarding", "rejected")]
    assert not (state / "api-credentials.json").exists()


def test_onboarding_with_a_substituted_stark_key_is_refused_before_sending(api: Any, tmp_path: Path) -> None:
    """dYdX's onboarding signature does not cover the STARK key; the cold key's origin signature over the
    payload does, so a consistent swap of the key (body and fields, resealed) is refused before any request,
    and the genuine payload still goes through afterwards."""
    signer = Signer.from_seed("relay/substituted")
    genuine = signer.onboarding()
    x, y = Signer.from_seed("relay/attacker").stark_point()

    def swap(v: dict[str, Any]) -> None:
        v["body"]["body"] = json.dumps(
            {"starkKey": hex(x), "starkKeyYCoordinate": hex(y)}, separators=(",", ":")
        )
        v["body"]["stark_public_key"] = f"0x{x:064x}"
        v["body"]["stark_public_key_y"] = f"0x{y:064x}"

    before = stats(api.url)
    with pytest.raises(AirgapError, match="origin signature"):
        submit_payload(tamper(genuine, swap), api.url, CHAIN, options(tmp_path / "hostile-relay"))
    assert stats(api.url) == before
    result = submit_payload(genuine, api.url, CHAIN, options(tmp_path / "operator"))
    assert result.outcome == "accepted"


# ---- everything that must be refused before a single request ---------------------------------------------


def _tampered_cases() -> list[tuple[str, Any]]:
    a = Signer.from_seed("relay/tamper-a")
    b = Signer.from_seed("relay/tamper-b")
    good = a.onboarding()
    other_x, other_y = b.stark_point()

    def body_key(v: dict) -> None:
        v["body"]["body"] = json.dumps(
            {"starkKey": hex(other_x), "starkKeyYCoordinate": hex(other_y)}, separators=(",", ":")
        )

    def field_key(v: dict) -> None:
        v["body"]["stark_public_key"] = f"0x{other_x:064x}"

    def off_curve(v: dict) -> None:
        x = int(v["body"]["stark_public_key"], 16)
        y = int(v["body"]["stark_public_key_y"], 16) ^ 1
        v["body"]["stark_public_key_y"] = f"0x{y:064x}"
        v["body"]["body"] = json.dumps(
            {"starkKey": hex(x), "starkKeyYCoordinate": hex(y)}, separators=(",", ":")
        )

    def other_chain(v: dict) -> None:  # signed for Goerli, relabelled as Sepolia
        v["network_id"] = CHAIN

    def swap_address(v: dict) -> None:
        v["address"] = b.address

    def flip(index: int) -> Any:
        def change(v: dict) -> None:
            v["body"]["signature"] = flip_hex(v["body"]["signature"], index)

        return change

    def flip_rung(v: dict) -> None:
        v["body"]["rungs"][1]["signature"] = flip_hex(v["body"]["rungs"][1]["signature"], 7)

    past = now_utc() - timedelta(hours=3)
    time_payload = new_payload(
        "time", CHAIN, None, {"server_time": iso_ms(past), "relay_time": iso_ms(past), "source": "x"}
    ).to_bytes()
    return [
        ("stark key changed in the body", tamper(good, body_key)),
        ("stark key changed in the field", tamper(good, field_key)),
        ("stark key off the curve", tamper(good, off_curve)),
        ("wrong chain id", tamper(a.onboarding(chain=5), other_chain)),
        ("swapped address", tamper(good, swap_address)),
        ("flipped r byte", tamper(good, flip(3))),
        ("flipped s byte", tamper(good, flip(40))),
        ("flipped v byte", tamper(good, flip(64))),
        ("flipped type byte", tamper(good, flip(65))),
        ("flipped rung signature", tamper(a.ladder("api-key-create"), flip_rung)),
        ("expired", a.onboarding(now=past, expires_in=timedelta(hours=1))),
        ("payload for another network", a.onboarding(chain=5)),
        ("not canonical", good.replace(b'"kind"', b' "kind"', 1)),
        ("edited without resealing", tamper(good, swap_address, reseal=False)),
        ("time payload", time_payload),
    ]


TAMPERED = _tampered_cases()


@pytest.mark.parametrize(("name", "data"), TAMPERED, ids=[n for n, _ in TAMPERED])
def test_tampered_payload_refused_before_any_request(api: Any, state: Path, name: str, data: bytes) -> None:
    before = stats(api.url)
    with pytest.raises(AirgapError) as caught:
        submit_payload(data, api.url, CHAIN, options(state))
    message = caught.value.message
    assert "\n" not in message and message
    # Resealed edits fail the cold key's origin signature while decoding; the rest fail the relay's own
    # checks. Either way the message is one line and nothing reaches the server.
    assert isinstance(caught.value, (SignatureError, FormatError, InputError, PolicyError))
    assert stats(api.url) == before  # not one request reached the server
    assert not state.exists()  # nor was anything journaled


def test_tampered_payload_cli_gives_one_clean_line(api: Any, state: Path, tmp_path: Path) -> None:
    _, data = TAMPERED[4]  # swapped address
    bad = tmp_path / "bad.json"
    bad.write_bytes(data)
    before = stats(api.url)
    result = relay("submit", bad, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert_clean_failure(result, "origin signature")
    good = tmp_path / "good.json"
    good.write_bytes(Signer.from_seed("relay/cli-network").onboarding())
    mismatch = relay("submit", good, "--api", api.url, "--network", "mainnet", "--state", state)
    assert_clean_failure(mismatch, "--network")
    assert stats(api.url) == before


def test_api_host_policy() -> None:
    mainnet, sepolia = get_network(1), get_network(CHAIN)
    assert resolve_api_target("https://api.dydx.exchange/", mainnet).origin == "https://api.dydx.exchange"
    assert resolve_api_target("https://api.stage.dydx.exchange", sepolia).origin.endswith(
        "stage.dydx.exchange"
    )
    assert resolve_api_target("http://127.0.0.1:8300", mainnet).loopback
    assert resolve_api_target("http://[::1]:8300", mainnet).loopback
    for url in ("https://api.dydx.exchange.evil.example", "https://api.stage.dydx.exchange"):
        with pytest.raises(PolicyError, match="--allow-host"):
            resolve_api_target(url, mainnet)
    assert resolve_api_target("https://mirror.example", mainnet, allow_host=True).host == "mirror.example"
    with pytest.raises(PolicyError, match="plain HTTP"):
        resolve_api_target("http://mirror.example", mainnet, allow_host=True)
    for bad in ("ftp://x", "https://api.dydx.exchange/prefix", "https://u:p@api.dydx.exchange", "https://"):
        with pytest.raises(AirgapError):
            resolve_api_target(bad, mainnet)


# ---- ladders ----------------------------------------------------------------------------------------------


def _rungs(now: datetime, *offsets: float) -> list[Rung]:
    return [
        Rung(i, iso_ms(now + timedelta(seconds=s)), now + timedelta(seconds=s), "")
        for i, s in enumerate(offsets)
    ]


def test_choose_rung_prefers_newest_not_in_future() -> None:
    now = parse_iso_ms("2026-01-01T00:00:00.000Z")
    assert choose_rung(_rungs(now, -60, -20, 0, 20, 40), now).moment == now
    assert choose_rung(_rungs(now, -60, -20, 4, 20), now).moment == now + timedelta(seconds=4)
    assert choose_rung(_rungs(now, -60, -25, 10, 20), now).moment == now - timedelta(seconds=25)
    # Only a future rung inside the window: used, the earliest one.
    assert choose_rung(_rungs(now, -90, 12, 20), now).moment == now + timedelta(seconds=12)
    with pytest.raises(PolicyError, match=r"ladder not yet valid, first rung in 93 s"):
        choose_rung(_rungs(now, 120, 140), now)
    with pytest.raises(PolicyError, match=r"ladder expired at 2025-12-31T23:59:47.000Z"):
        choose_rung(_rungs(now, -100, -70, -40), now)
    with pytest.raises(PolicyError, match=r"gap between rungs\); the next one is usable in 13 s"):
        choose_rung(_rungs(now, -60, 40), now)
    # The payload's own validity interval narrows the ladder's.
    with pytest.raises(PolicyError, match=r"ladder expired at 2025-12-31T23:59:55.000Z"):
        choose_rung(_rungs(now, -10, 10), now, valid_until=now - timedelta(seconds=5))
    with pytest.raises(PolicyError, match=r"first rung in 8 s"):
        choose_rung(_rungs(now, -10, 10), now, valid_from=now + timedelta(seconds=8))


def test_ladder_rung_selection_against_the_server(api: Any, state: Path) -> None:
    signer = Signer.from_seed("relay/ladder")
    submit_payload(signer.onboarding(), api.url, CHAIN, options(state))
    # Rungs 50 s ago (outside the window), 10 s ago, and 15 s ahead: the one 10 s ago is sent.
    now = now_utc()
    data = signer.ladder("recovery", (-50, -10, 15), base=now)
    result = submit_payload(data, api.url, CHAIN, options(state))
    assert result.outcome == "accepted"
    assert int(result.details["recovery"]["starkKey"], 16) == signer.stark_point()[0]
    with Journal.open(state) as journal:
        sent = [e for e in journal.exchanges(result.journal_entry) if e["purpose"] == "submit"]
    assert [json.loads(e["request_headers"])["DYDX-TIMESTAMP"] for e in sent] == [
        iso_ms(now - timedelta(seconds=10))
    ]


@pytest.mark.parametrize(
    ("server_offset", "fragment"),
    [
        (timedelta(minutes=-10), "ladder not yet valid, first rung in 5"),
        (timedelta(minutes=10), "ladder expired at"),
    ],
)
def test_ladder_is_judged_by_the_server_clock(
    tmp_path: Path, server_offset: timedelta, fragment: str
) -> None:
    """A ladder signed around the relay's clock, and an API whose clock is ten minutes off."""
    signer = Signer.from_seed("relay/server-clock")
    with start_local_api(chain_id=CHAIN, clock=lambda: now_utc() + server_offset) as server:
        with pytest.raises(PolicyError, match=fragment) as caught:
            submit_payload(
                signer.ladder("api-key-create", (-10, 10, 30)), server.url, CHAIN, options(tmp_path)
            )
        assert "\n" not in caught.value.message
        # Only the server clock was read; nothing Ethereum-signed was sent.
        assert server.ledger.snapshot()["received"] == {"time": 1}


def test_submit_wait_holds_a_future_ladder_until_its_first_rung_is_usable(
    api: Any, state: Path, tmp_path: Path
) -> None:
    signer = Signer.from_seed("relay/wait")
    onboarding = tmp_path / "onboarding.json"
    onboarding.write_bytes(signer.onboarding())
    assert relay("submit", onboarding, "--api", api.url, "--network", str(CHAIN), "--state", state).code == 0
    recovery = tmp_path / "recovery.json"
    recovery.write_bytes(signer.ladder("recovery", (33, 53)))  # usable from about 8 s from now
    early = relay("submit", recovery, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert_clean_failure(early, "not yet valid", "--wait")
    started = time.monotonic()
    waited = relay("submit", recovery, "--api", api.url, "--network", str(CHAIN), "--state", state, "--wait")
    assert waited.code == 0, waited
    assert 3 <= time.monotonic() - started <= 40
    assert "waiting for the ladder: its first rung is usable in" in waited.err
    assert "accepted" in waited.out


# ---- API keys: create via a ladder, list (redacted), delete -------------------------------------------------


def test_api_key_create_list_delete(api: Any, state: Path, tmp_path: Path) -> None:
    signer = Signer.from_seed("relay/api-keys")
    onboarding = tmp_path / "onboarding.json"
    onboarding.write_bytes(signer.onboarding())
    assert relay("submit", onboarding, "--api", api.url, "--network", str(CHAIN), "--state", state).code == 0

    create = tmp_path / "create.json"
    create.write_bytes(signer.ladder("api-key-create"))
    made = relay("submit", create, "--api", api.url, "--network", str(CHAIN), "--state", state, "--json")
    assert made.code == 0, made
    new_key = json.loads(made.out)["details"]["created_key"]
    default_key = api_credentials_from_onboarding_signature(
        bytes.fromhex(signer.onboarding_signature()[2:])
    ).key
    assert api.store.list_api_keys(signer.address) == [default_key, new_key]

    # Replay: nothing sent, still two keys.
    replay = relay("submit", create, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert replay.code == 0 and "already accepted" in replay.out
    assert api.store.list_api_keys(signer.address) == [default_key, new_key]

    listed = relay(
        "api-keys", "list", "--api", api.url, "--address", signer.address.lower(), "--state", state, "--json"
    )
    assert listed.code == 0, listed
    rows = json.loads(listed.out)["api_keys"]
    assert [(r["key"], r["label"], r["secret"], r["passphrase"]) for r in rows] == [
        (default_key, "default", "<redacted>", "<redacted>"),
        (new_key, "created", "<redacted>", "<redacted>"),
    ]
    stored = json.loads((state / "api-credentials.json").read_text())["keys"]
    created_secret = next(k for k in stored if k["key"] == new_key)
    text_listing = relay("api-keys", "list", "--api", api.url, "--address", signer.address, "--state", state)
    for output in (listed, text_listing, made, replay):
        for secret in [created_secret["secret"], created_secret["passphrase"], *secrets_of(signer)]:
            assert secret not in output.out + output.err

    delete = tmp_path / "delete.json"
    delete.write_bytes(signer.ladder("api-key-delete", api_key=new_key))
    gone = relay("submit", delete, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert gone.code == 0, gone
    assert new_key in gone.out
    assert api.store.list_api_keys(signer.address) == [default_key]
    after = json.loads(
        relay(
            "api-keys", "list", "--api", api.url, "--address", signer.address, "--state", state, "--json"
        ).out
    )
    assert [r["key"] for r in after["api_keys"]] == [default_key]
    assert all(k["key"] != new_key for k in json.loads((state / "api-credentials.json").read_text())["keys"])

    # Deleting a key the user does not have: dYdX's 404, not retried, one clean line.
    missing = tmp_path / "missing.json"
    missing.write_bytes(signer.ladder("api-key-delete", api_key="00000000-0000-0000-0000-000000000000"))
    before = stats(api.url)
    refused = relay("submit", missing, "--api", api.url, "--network", str(CHAIN), "--state", state)
    assert_clean_failure(refused, "HTTP 404", "API key not found")
    assert stats(api.url)["received"]["api_keys.delete"] == before["received"]["api_keys.delete"] + 1


def test_api_keys_list_needs_stored_credentials(api: Any, state: Path) -> None:
    result = relay(
        "api-keys",
        "list",
        "--api",
        api.url,
        "--address",
        Signer.from_seed("nobody").address,
        "--state",
        state,
    )
    assert_clean_failure(result, "no stored API credentials")
    (state).mkdir(mode=0o700)
    (state / "api-credentials.json").write_text('{"format": "dydx-airgap-relay-credentials/1", "keys": []}')
    os.chmod(state / "api-credentials.json", 0o644)
    result = relay(
        "api-keys",
        "list",
        "--api",
        api.url,
        "--address",
        Signer.from_seed("nobody").address,
        "--state",
        state,
    )
    assert_clean_failure(result, "chmod 600")


# ---- the retry policy, against the real server's fault injection -----------------------------------------


def test_retries_backoff_and_retry_after() -> None:
    policy = RetryPolicy()
    assert [policy.backoff(n, 0.0) for n in range(1, 9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert [policy.backoff(n, 0.999999) for n in (1, 7)] == pytest.approx([0.5, 30.0], abs=1e-4)
    with pytest.raises(AirgapError):
        RetryPolicy(max_attempts=6)

    plan = FaultPlan(probabilities={Fault.HTTP_503: 1.0}, kinds=frozenset({"time"}))
    with start_local_api(chain_id=CHAIN, faults=plan) as server:
        pauses: list[float] = []
        client = ApiClient(
            server.url, retry=RetryPolicy(base_delay=0.5), sleep=pauses.append, jitter=lambda: 0.5
        )
        with client, pytest.raises(RemoteError, match=r"failed 5 times \(last: HTTP 503") as caught:
            client.get_json("/v3/time")
        assert "\n" not in caught.value.message
        assert pauses == [0.375, 0.75, 1.5, 3.0]
        seen = stats(server.url)  # faulted requests are listed as faults, never reach the handler
        assert [f["kind"] for f in seen["faults"]] == ["time"] * 5 and "time" not in seen["received"]

    plan = FaultPlan(schedule=(ScheduledFault(1, Fault.HTTP_429),), retry_after_seconds=3)
    with start_local_api(chain_id=CHAIN, faults=plan) as server:
        pauses = []
        with ApiClient(server.url, retry=RetryPolicy(base_delay=0.5), sleep=pauses.append) as client:
            assert "iso" in client.get_json("/v3/time")
        assert pauses == [3.0]  # Retry-After wins over the shorter backoff
    plan = FaultPlan(schedule=(ScheduledFault(1, Fault.HTTP_429),), retry_after_seconds=3600)
    with (
        start_local_api(chain_id=CHAIN, faults=plan) as server,
        ApiClient(server.url, sleep=pauses.append) as client,
        pytest.raises(RemoteError, match="try again later"),
    ):
        client.get_json("/v3/time")


def test_path_is_sent_byte_for_byte(api: Any) -> None:
    with ApiClient(api.url) as client:
        raw = "/v3/users/exists?ethereumAddress=0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
        assert client.url_for(raw).raw_path == raw.encode()
        assert client.get_json(raw) == {"exists": False}
        with pytest.raises(AirgapError, match="re-encoded"):
            client.url_for("/v3/api-keys?apiKey=a b")


# ---- fault schedules: at most one effect per payload, one clear line per failure -------------------------

FAULT_MIXES = {
    "5xx": {Fault.HTTP_500: 0.12, Fault.HTTP_502: 0.08, Fault.HTTP_503: 0.08},
    "429-and-drops": {Fault.HTTP_429: 0.15, Fault.DROP: 0.12, Fault.DELAY: 0.05},
    "after-commit": {Fault.LATE_AFTER_COMMIT: 0.06, Fault.DROP_AFTER_COMMIT: 0.15, Fault.HTTP_500: 0.05},
    "everything": {
        Fault.HTTP_500: 0.05,
        Fault.HTTP_502: 0.04,
        Fault.HTTP_503: 0.04,
        Fault.HTTP_429: 0.05,
        Fault.DROP: 0.05,
        Fault.LATE_AFTER_COMMIT: 0.03,
        Fault.DROP_AFTER_COMMIT: 0.07,
    },
}


def _delta(after: dict, before: dict, table: str, kind: str) -> int:
    return after[table].get(kind, 0) - before[table].get(kind, 0)


def _submit_until_settled(
    data: bytes, url: str, opts: RelayOptions, failures: list[str]
) -> SubmitResult | None:
    """Run the relay like an operator would: again after a failure, up to three times."""
    for _ in range(3):
        try:
            return submit_payload(data, url, CHAIN, opts)
        except AirgapError as exc:
            failures.append(exc.message)
    return None


def _check_status_query_before_resend(state: Path) -> int:
    """In every journal entry, a submit attempt that may have taken effect is followed by a status
    query before the next submit attempt. Returns how many such attempts were seen."""
    seen = 0
    with Journal.open(state) as journal:
        for entry in journal.submissions():
            if entry.action == "recovery":
                continue
            pending = False
            for exchange in journal.exchanges(entry.id):
                if exchange["purpose"] == "status" and exchange["status"] == 200:
                    pending = False
                elif exchange["purpose"] == "submit":
                    assert not pending, (entry.action, journal.exchanges(entry.id))
                    pending = bool(exchange["may_have_taken_effect"])
                    seen += pending
    return seen


@pytest.mark.parametrize("mix", sorted(FAULT_MIXES))
def test_fault_schedules_never_double_submit(tmp_path: Path, mix: str, figure) -> None:
    # settle_after_ambiguity is off here: these faults act after the server's handler committed (or
    # before it ran), so there is no late-processed request to wait for; the wait itself is tested below.
    plan = FaultPlan(
        seed=f"relay-{mix}", probabilities=FAULT_MIXES[mix], late_seconds=0.8, delay_seconds=0.02
    )
    failures: list[str] = []
    ambiguous_attempts = 0
    created = lost = 0
    with start_local_api(chain_id=CHAIN, faults=plan) as server:
        for run in range(FAULT_RUNS_PER_MIX):
            signer = Signer.from_seed(f"relay/faults/{mix}/{run}")
            state = tmp_path / f"state-{run}"
            pauses: list[float] = []  # recorded, not slept: Retry-After and backoff are checked elsewhere
            opts = options(state, timeout=0.2, settle_after_ambiguity=False, sleep=pauses.append)
            before = server.ledger.snapshot()
            onboarded = _submit_until_settled(signer.onboarding(), server.url, opts, failures)
            ladder = signer.ladder("api-key-create", (-20, -5, 10, 25))
            made = _submit_until_settled(ladder, server.url, opts, failures) if onboarded else None
            after = server.ledger.snapshot()

            # The server saw each payload take effect at most once, and never a duplicate attempt.
            assert _delta(after, before, "accepted", "onboarding") <= 1
            assert _delta(after, before, "rejected", "onboarding") == 0
            assert _delta(after, before, "accepted", "api_keys.create") <= 1
            assert _delta(after, before, "rejected", "api_keys.create") == 0
            keys = server.store.list_api_keys(signer.address)
            assert len(keys) <= 2
            assert (server.store.get_user(signer.address) is not None) == (
                _delta(after, before, "accepted", "onboarding") == 1
            )
            if onboarded is not None:
                assert onboarded.details["api_key"] == keys[0]
            if made is not None:
                if made.details.get("created_key"):
                    created += 1
                    assert made.details["created_key"] == keys[1]
                else:
                    lost += 1
                    assert made.details["lost_secret_keys"] == keys[1:]
                replay = submit_payload(ladder, server.url, CHAIN, opts)
                assert replay.outcome == "already-accepted" and replay.sent is False
            ambiguous_attempts += _check_status_query_before_resend(state)
        faults = server.ledger.snapshot()["faults"]
    for message in failures:
        assert message and "\n" not in message and len(message) < 400, message
    assert len(faults) > FAULT_RUNS_PER_MIX  # the schedules really were faulty
    assert created > FAULT_RUNS_PER_MIX // 2
    if mix == "after-commit":
        assert ambiguous_attempts > 0 and lost > 0
    figure(
        f"relay faults ({mix}): {FAULT_RUNS_PER_MIX} schedules, {len(faults)} faults injected, 0 payloads "
        f"accepted twice, {ambiguous_attempts} ambiguous attempts each followed by a status query, "
        f"{len(failures)} failures reported in one line"
    )


def _read_http_message(stream: Any) -> bytes | None:
    """One HTTP/1.1 message (head + Content-Length body) from a socket file; None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + stream.read(length)


class QueueingProxy:
    """A loopback hop in front of the API that holds the first ``first_line`` request for ``delay`` seconds
    and then passes it on *even though the client has given up by then* — what a queueing load balancer
    does. The request is processed after the relay's timeout, which no server-side fault can mimic
    (the local API stops reading a request whose client disconnected)."""

    def __init__(self, upstream: str, first_line: bytes, delay: float) -> None:
        self.upstream = httpx.URL(upstream)
        self.first_line = first_line
        self.delay = delay
        self.held = 0
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                stream = self.request.makefile("rb")
                while (message := _read_http_message(stream)) is not None:
                    if message.startswith(proxy.first_line) and proxy.held == 0:
                        proxy.held += 1
                        time.sleep(proxy.delay)
                    with socket.create_connection((proxy.upstream.host, proxy.upstream.port)) as up:
                        up.sendall(message)
                        answer = _read_http_message(up.makefile("rb"))
                    try:
                        self.request.sendall(answer or b"")
                    except OSError:
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_interrupted_create_waits_for_its_rung_to_expire(tmp_path: Path) -> None:
    """The first POST /v3/api-keys reaches the server only after the relay gave up on it.

    Checking at once would see no new key and resend (two keys); the relay waits until the rung it sent is
    outside the server's window, then sees the key (its secret lost) and sends nothing more.
    """
    signer = Signer.from_seed("relay/slow-create")
    state = tmp_path / "state"
    with start_local_api(chain_id=CHAIN) as server:
        proxy = QueueingProxy(server.url, b"POST /v3/api-keys ", delay=0.8)
        try:
            # Credentials belong to the origin they came from: onboard through the proxy too.
            submit_payload(signer.onboarding(), proxy.url, CHAIN, options(state))
            # The preferred rung is 25 s old (usable for a few more seconds); a future one is the fallback.
            ladder = signer.ladder("api-key-create", (-25, 20))
            reports: list[str] = []
            result = submit_payload(
                ladder, proxy.url, CHAIN, options(state, timeout=0.3, sleep=time.sleep, report=reports.append)
            )
        finally:
            proxy.close()
        keys = server.store.list_api_keys(signer.address)
        assert proxy.held == 1
        assert len(keys) == 2, keys
        assert result.outcome == "accepted-after-check"
        assert result.details["lost_secret_keys"] == keys[1:]
        assert any("waiting" in line for line in reports), reports
        assert server.ledger.snapshot()["accepted"]["api_keys.create"] == 1


def test_ambiguous_onboarding_is_settled_by_the_next_run(tmp_path: Path) -> None:
    """The onboarding answer is lost and the status query fails too: the entry stays ambiguous, the next
    run asks first, finds the user made from this signature, and sends nothing again."""
    plan = FaultPlan(
        schedule=(
            ScheduledFault(1, Fault.DROP_AFTER_COMMIT, "onboarding"),
            *(ScheduledFault(n, Fault.HTTP_503, "users.exists") for n in range(1, 6)),
        )
    )
    signer = Signer.from_seed("relay/ambiguous-onboarding")
    state = tmp_path / "state"
    data = signer.onboarding()
    with start_local_api(chain_id=CHAIN, faults=plan) as server:
        with pytest.raises(RemoteError, match="run the same command again") as caught:
            submit_payload(data, server.url, CHAIN, options(state))
        assert "\n" not in caught.value.message
        with Journal.open(state) as journal:
            (entry,) = journal.submissions()
            assert entry.state == "ambiguous"
            assert [e["purpose"] for e in journal.exchanges(entry.id)] == ["submit"] + ["status"] * 5
        assert server.store.get_user(signer.address) is not None

        result = submit_payload(data, server.url, CHAIN, options(state))
        assert result.outcome == "accepted-after-check" and result.sent is False
        assert result.details["api_key"] == server.store.list_api_keys(signer.address)[0]
        assert server.ledger.snapshot()["received"]["onboarding"] == 1  # sent exactly once, ever
        again = submit_payload(data, server.url, CHAIN, options(state))
        assert again.outcome == "already-accepted"


def test_one_relay_per_state_directory(api: Any, state: Path) -> None:
    from dydx_airgap.online.state_dir import locked_state_dir

    data = Signer.from_seed("relay/locked").onboarding()
    with locked_state_dir(state):
        before = stats(api.url)
        with pytest.raises(AirgapError, match="another relay is working"):
            submit_payload(data, api.url, CHAIN, options(state))
        assert stats(api.url) == before
    assert submit_payload(data, api.url, CHAIN, options(state)).outcome == "accepted"


# ---- the relay needs nothing from the cold side ------------------------------------------------------------


def test_relay_runs_with_the_cold_signer_unimportable(api: Any, tmp_path: Path) -> None:
    signer = Signer.from_seed("relay/no-offline")
    onboarding = tmp_path / "onboarding.json"
    onboarding.write_bytes(signer.onboarding())
    create = tmp_path / "create.json"
    create.write_bytes(signer.ladder("api-key-create"))
    state = tmp_path / "state"
    script = textwrap.dedent(
        f"""
        import sys

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name == "dydx_airgap.offline" or name.startswith("dydx_airgap.offline."):
                    raise ImportError("the cold signer is not installed here")
                if name == "eth_account" or name.startswith("eth_account."):
                    raise ImportError("no Ethereum key library on the relay")
                return None

        sys.meta_path.insert(0, Refuse())
        from dydx_airgap.online.cli import main

        common = ["--api", {api.url!r}, "--network", "{CHAIN}", "--state", {str(state)!r}]
        codes = [
            main(["submit", {str(onboarding)!r}, *common]),
            main(["submit", {str(create)!r}, *common]),
            main(["api-keys", "list", "--api", {api.url!r}, "--address", {signer.address!r},
                  "--state", {str(state)!r}]),
            main(["time", "--api", {api.url!r}, "--network", "{CHAIN}", "--out", {str(tmp_path / "t.json")!r}]),
        ]
        loaded = sorted(m for m in sys.modules if m.startswith(("dydx_airgap.offline", "eth_account")))
        print("CODES", codes, "LOADED", loaded)
        sys.exit(max(codes))
        """
    )
    proc = subprocess.run([str(BIN / "python"), "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "CODES [0, 0, 0, 0] LOADED []" in proc.stdout
    assert len(api.store.list_api_keys(signer.address)) == 2


# ---- time payloads ----------------------------------------------------------------------------------------


def test_time_payload(api: Any, tmp_path: Path) -> None:
    out = tmp_path / "time.json"
    result = relay("time", "--api", api.url, "--network", str(CHAIN), "--out", out)
    assert result.code == 0, result
    payload = decode_payload(out.read_bytes())
    assert payload.kind == "time" and payload.network_id == CHAIN and payload.address is None
    assert payload.body["source"] == f"{api.url}/v3/time"
    server = parse_iso_ms(payload.body["server_time"])
    relay_time = parse_iso_ms(payload.body["relay_time"])
    assert abs((server - relay_time).total_seconds()) < 5  # same host, same clock
    assert abs((now_utc() - server).total_seconds()) < 60
    again = make_time_payload(api.url, "sepolia")
    assert parse_iso_ms(again.body["server_time"]) >= server
    refused = relay("time", "--api", "https://example.com", "--network", "1", "--out", tmp_path / "x.json")
    assert_clean_failure(refused, "--allow-host")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "/nonexistent/payload.json", "--api", "http://127.0.0.1:9", "--network", "1"),
        ("submit", "{payload}", "--api", "http://127.0.0.1:9", "--network", "nonet"),
        ("submit", "{payload}", "--api", "http://127.0.0.1:9/v3", "--network", str(CHAIN)),
        ("submit", "{payload}", "--api", "http://127.0.0.1:9", "--network", str(CHAIN), "--state", "{state}"),
        ("api-keys", "list", "--api", "http://127.0.0.1:9", "--address", "0x1234", "--state", "{state}"),
        ("time", "--api", "http://127.0.0.1:9", "--network", "1", "--out", "{state}/t.json"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    payload = tmp_path / "p.json"
    payload.write_bytes(Signer.from_seed("relay/bad-input").onboarding())
    filled = [a.format(payload=payload, state=tmp_path / "state") for a in args]
    result = relay(*filled, "--timeout", "1", "--retry-base", "0.01")
    assert_clean_failure(result)
