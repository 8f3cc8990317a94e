"""Finding 1: a relay-supplied time moves the cold clock only within bounds, a payload's carry time is not
counted as offset, and nothing already expired is signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dydx_airgap.shared.timestamps import iso_ms, now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from tests.conftest import Result, assert_clean_failure, run_tool


def _time_file(tmp_path: Path, server: datetime, name: str) -> Path:
    stamp = iso_ms(server)
    tp = new_payload(
        "time", 1, None, {"server_time": stamp, "relay_time": stamp, "source": "http://127.0.0.1"}
    )
    path = tmp_path / f"{name}.time.json"
    path.write_bytes(tp.to_bytes())
    return path


def _sign(tmp_path: Path, keystore, command: list[str], tfile: Path, out: Path, *extra: str) -> Result:
    ks, pw, _ = keystore
    return run_tool(
        "dydx-offline",
        "sign",
        *command,
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--clock-from",
        tfile,
        "--evidence-log",
        tmp_path / "log",
        *extra,
    )


HOSTILE = {
    "400 days ahead": timedelta(days=400),
    "10 minutes ahead": timedelta(minutes=10),
    "20 minutes behind": timedelta(minutes=-20),
    "400 days behind": timedelta(days=-400),
}


def test_relay_time_beyond_a_few_minutes_is_refused_without_the_flag(
    tmp_path: Path, keystore, figure
) -> None:
    cases: list[tuple[str, list[str], Path]] = []
    for name, delta in HOSTILE.items():
        cases.append((name, ["api-key", "create"], _time_file(tmp_path, now_utc() + delta, f"h{len(cases)}")))
    year_9999 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    cases.append(("year 9999", ["api-key", "create"], _time_file(tmp_path, year_9999, "y9999")))
    cases.append(("400 days ahead, onboarding", ["onboarding"], cases[0][2]))
    refused = 0
    for i, (_name, command, tfile) in enumerate(cases):
        out = tmp_path / f"out{i}.json"
        r = _sign(tmp_path, keystore, command, tfile, out)
        ok = r.code != 0 and "Traceback" not in r.err and not out.exists() and "this machine says" in r.err
        refused += ok
    figure(f"clock: relay times beyond 300 s refused (both clocks named) in {refused} of {len(cases)} cases")
    assert refused == len(cases)


def test_accepted_offset_is_shown_and_still_hard_capped(tmp_path: Path, keystore) -> None:
    tfile = _time_file(tmp_path, now_utc() + timedelta(minutes=10), "ten")
    out = tmp_path / "ok.json"
    r = _sign(tmp_path, keystore, ["recovery"], tfile, out, "--ladder-minutes", "0", "--accept-clock-offset")
    assert r.code == 0, r
    assert "this machine says" in r.out and "the API said" in r.out  # both clocks on the review
    first = parse_iso_ms(decode_payload(out.read_bytes()).body["rungs"][0]["timestamp"])
    assert abs((first - (now_utc() + timedelta(minutes=10))).total_seconds()) < 30
    far = _time_file(tmp_path, now_utc() + timedelta(days=400), "far")
    r = _sign(tmp_path, keystore, ["recovery"], far, tmp_path / "far.json", "--accept-clock-offset")
    assert_clean_failure(r, "set this clock")
    assert not (tmp_path / "far.json").exists()
    r = _sign(
        tmp_path,
        keystore,
        ["recovery"],
        _time_file(tmp_path, datetime(9999, 1, 1, tzinfo=UTC), "y"),
        tmp_path / "y.json",
        "--accept-clock-offset",
    )
    assert_clean_failure(r)


def test_carry_time_is_not_counted_as_clock_offset(tmp_path: Path, keystore, figure) -> None:
    """A time payload read minutes after it was made: the old code moved the clock back by that age and
    signed a one-rung ladder that had already expired, with exit 0."""
    ages = [timedelta(seconds=s) for s in (45, 120, 300, 600)]
    live = 0
    for i, age in enumerate(ages):
        out = tmp_path / f"aged{i}.json"
        r = _sign(
            tmp_path,
            keystore,
            ["recovery"],
            _time_file(tmp_path, now_utc() - age, f"a{i}"),
            out,
            "--ladder-minutes",
            "0",
        )
        if r.code == 0:
            body = decode_payload(out.read_bytes()).body
            first = parse_iso_ms(body["rungs"][0]["timestamp"])
            live += parse_iso_ms(body["valid_until"]) > now_utc() and abs(first - now_utc()) < timedelta(
                seconds=20
            )
    figure(
        f"clock: time payloads {', '.join(f'{a.total_seconds():.0f}' for a in ages)} s old signed live (age not offset) in {live} of {len(ages)}"
    )
    assert live == len(ages)
