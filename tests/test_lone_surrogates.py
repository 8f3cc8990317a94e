"""Finding 7: a JSON ``\\ud800`` escape (a lone surrogate: no character) is a typed error in every decoder
of outside JSON — both imports, compare, the relay's reading of API answers — and a submission whose
journal entry was opened never stays ``sending``."""

from __future__ import annotations

from pathlib import Path

from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import new_payload
from tests.online.hostile_api import hostile_api

from .conftest import TEST_MNEMONIC, Result, run_tool, write_secret

SURROGATE = b"\\ud800"


def _typed(r: Result) -> bool:
    """A one-line error and exit 1 or 2 (70 is the internal-error code)."""
    last = r.err_lines[-1] if r.err_lines else ""
    return r.code in (1, 2) and "Traceback" not in r.err and last.startswith(("error:", "Error:"))


def _with_surrogate(payload_bytes: bytes, field: bytes) -> bytes:
    assert field in payload_bytes
    return payload_bytes.replace(field, field[:-1] + SURROGATE + b'"', 1)


def test_lone_surrogates_are_typed_errors_and_journal_entries_resolve(tmp_path: Path, figure) -> None:
    stamp = iso_ms(now_utc())
    time_payload = new_payload(
        "time", 31337, None, {"server_time": stamp, "relay_time": stamp, "source": "http://127.0.0.1"}
    ).to_bytes()
    hostile_time = tmp_path / "time.json"
    hostile_time.write_bytes(_with_surrogate(time_payload, b'"source":"http://127.0.0.1"'))
    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    onboarding = tmp_path / "onboarding.json"
    r = run_tool(
        "dydx-offline", "sign", "onboarding", "--mnemonic-file", mnemonic, "--network", "31337", "--yes",
        "--out", onboarding, "--evidence-log", tmp_path / "log",
    )  # fmt: skip
    assert r.code == 0, r
    hostile_onboarding = tmp_path / "hostile-onboarding.json"
    data = onboarding.read_bytes()
    hostile_onboarding.write_bytes(
        data.replace(b'"kind":"onboarding-request"', b'"kind":"onboarding-request' + SURROGATE + b'"')
    )
    side_a, side_b = tmp_path / "A", tmp_path / "B"
    for side, content in ((side_a, time_payload), (side_b, hostile_time.read_bytes())):
        side.mkdir()
        (side / "time.json").write_bytes(content)
    runs = {
        "dydx-offline import": run_tool(
            "dydx-offline", "import", "--file", hostile_time, "--out", tmp_path / "a"
        ),
        "dydx-relay import": run_tool(
            "dydx-relay", "import", "--file", hostile_onboarding, "--out", tmp_path / "b"
        ),
        "dydx-audit compare": run_tool("dydx-audit", "compare", side_a, side_b),
    }
    state = tmp_path / "state"

    def answer(method: str, path: str) -> bytes:
        return b'{"apiKey":{"key":"' + SURROGATE + b'","secret":"x","passphrase":"y"},"user":{},"account":{}}'

    with hostile_api(answer) as url:
        runs["dydx-relay submit"] = run_tool(
            "dydx-relay", "submit", onboarding, "--api", url, "--network", "31337", "--state", state
        )
    typed = sum(_typed(r) or (name == "dydx-audit compare" and r.code == 1 and "Traceback" not in r.err)
                for name, r in runs.items())  # fmt: skip
    from dydx_airgap.online.relay.journal import Journal

    with Journal.open(state) as journal:
        entries = journal.submissions()
        resolved = [e for e in entries if e.state != "sending" and journal.exchanges(e.id)]
    figure(
        f"unicode: lone-surrogate inputs given typed errors in {typed} of {len(runs)} decoders; "
        f"journal entries resolved with their exchange {len(resolved)} of {len(entries)}"
    )
    assert typed == len(runs), {name: (r.code, r.err[-200:]) for name, r in runs.items()}
    assert entries and len(resolved) == len(entries)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
