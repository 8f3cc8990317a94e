"""Cross-check dydx_airgap.shared.stark against cairo-lang 0.14.0.1, case by case.

Run it with the interpreter of the separate cross-check venv, which holds cairo-lang and an
editable, dependency-free install of this repository (cairo-lang pins old libraries, so it never
goes into .venv)::

    python3 -m venv .venv-crosscheck
    .venv-crosscheck/bin/pip install -r tests/crosscheck/requirements.txt
    .venv-crosscheck/bin/pip install --no-deps -e .
    .venv-crosscheck/bin/python tests/crosscheck/cairo_crosscheck.py [--seed HEX] [--scale K]
        [--freeze tests/data/stark_cases.json] [--timing]

Every case is an operation name, its arguments and cairo-lang's outcome (a value, or the fact that
it raised). Our module must give the same value, or raise one of our typed errors where cairo-lang
raises. The inputs come from a SHA-256 counter stream seeded by --seed (fresh from os.urandom when
omitted, and printed so that a failing run can be replayed). Besides random cases the script builds
signatures that plain ECDSA accepts but the StarkEx AIR (and so cairo-lang) rejects, to prove that
we reproduce the AIR's rule rather than textbook verification.

It prints ``crosscheck: N cases, M mismatches`` and exits 1 if M > 0. With --freeze it writes all
cases, with cairo-lang's outcomes as expected values, for tests/test_stark.py (which runs without
cairo-lang).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    from starkware.crypto.signature import math_utils as cairo_math
    from starkware.crypto.signature import signature as cairo
except ImportError:
    sys.exit("cairo_crosscheck: cairo-lang is missing; run me with .venv-crosscheck/bin/python")
try:
    from dydx_airgap.shared import stark as ours
    from dydx_airgap.shared.errors import AirgapError
except ImportError:
    sys.exit(
        "cairo_crosscheck: dydx_airgap is missing; run `.venv-crosscheck/bin/pip install --no-deps -e .`"
    )

FORMAT = "stark-crosscheck/1"
P = cairo.FIELD_PRIME
N = cairo.EC_ORDER
SIGNABLE = 2**cairo.N_ELEMENT_BITS_ECDSA


class Stream:
    """Deterministic integers from SHA-256(seed ‖ counter); inputs only, never keys in real use."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def bits(self, count: int) -> int:
        out = b""
        while len(out) * 8 < count:
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return int.from_bytes(out, "big") >> (len(out) * 8 - count)

    def below(self, bound: int) -> int:
        # 64 spare bits make the modulo bias irrelevant for test inputs.
        return self.bits(bound.bit_length() + 64) % bound

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low)

    def with_bit_length(self, length: int) -> int:
        return (1 << (length - 1)) | self.bits(length - 1) if length > 1 else 1


# --- encoding of arguments and outcomes (JSON: ints as 0x-hex, points as [x, y]) ---------------


def encode(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    raise TypeError(type(value))


def decode(value: Any) -> Any:
    if isinstance(value, str):
        return int(value, 16)
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    return value


def outcome(call: Callable[[], Any]) -> Any:
    """cairo-lang's result, encoded; any exception becomes {"error": its type name}."""
    try:
        return {"value": encode(call())}
    except Exception as exc:  # noqa: BLE001 - cairo-lang raises assorted types on bad input
        return {"error": type(exc).__name__}


OURS: dict[str, Callable[..., Any]] = {
    name: getattr(ours, name)
    for name in (
        "private_key_to_ec_point_on_stark_curve",
        "private_to_stark_key",
        "get_y_coordinate",
        "is_valid_stark_key",
        "generate_k_rfc6979",
        "sign",
        "verify",
        "pedersen_hash",
        "pedersen_hash_as_point",
        "inv_mod_curve_size",
    )
}


def case(op: str, *args: Any, note: str = "") -> dict[str, Any]:
    """Run ``op`` in cairo-lang and record the case."""
    record: dict[str, Any] = {"op": op, "args": encode(list(args))}
    record["expected"] = outcome(lambda: getattr(cairo, op)(*args))
    if note:
        record["note"] = note
    return record


def check(record: dict[str, Any]) -> str | None:
    """None if our module agrees with the recorded outcome, else a description of the mismatch."""
    args = [decode(arg) for arg in record["args"]]
    try:
        got: dict[str, Any] = {"value": encode(OURS[record["op"]](*args))}
    except AirgapError as exc:
        got = {"error": type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - any other exception from our side is the finding
        return f"untyped exception {type(exc).__name__}: {exc}"
    expected = record["expected"]
    if "error" in expected and "error" in got:
        return None
    if got != expected:
        return f"expected {expected}, got {got}"
    return None


# --- AIR-only rejections: key-substituted signatures that textbook ECDSA accepts ---------------


def point_mul(scalar: int, point: Any) -> tuple[int, int]:
    return tuple(cairo_math.ec_mult(scalar % N, point, cairo.ALPHA, P))  # type: ignore[return-value]


def point_add(first: Any, second: Any) -> tuple[int, int]:
    return tuple(cairo_math.ec_add(first, second, P))  # type: ignore[return-value]


def point_neg(point: Any) -> tuple[int, int]:
    return point[0], (-point[1]) % P


def textbook_valid(msg_hash: int, r: int, s: int, public_key: tuple[int, int]) -> bool:
    """Plain-math StarkEx ECDSA: x(w·z·G + w·r·Q) == r, with no AIR constraint."""
    w = pow(s, -1, N)
    r_q = point_mul(w * r, public_key)
    if msg_hash % N == 0:
        return r_q[0] == r
    z_g = point_mul(w * msg_hash, cairo.EC_GEN)
    return z_g[0] != r_q[0] and point_add(z_g, r_q)[0] == r


def substituted_key(msg_hash: int, w: int, b: tuple[int, int]) -> tuple[int, int, tuple[int, int]] | None:
    """Given z, w and B = z·G + r·Q wanted, return (r, s, Q) making (z, r, s) valid for Q."""
    r = point_mul(w, b)[0]
    if not 1 <= r < SIGNABLE:
        return None
    q = point_mul(pow(r, -1, N), point_add(b, point_neg(point_mul(msg_hash, cairo.EC_GEN))))
    return r, pow(w, -1, N), q


def air_rejected_cases(stream: Stream, rounds: int) -> Iterator[dict[str, Any]]:
    shift = tuple(cairo.SHIFT_POINT)
    for _ in range(rounds):
        z = stream.between(1, SIGNABLE)
        w = stream.between(1, SIGNABLE)
        crafted: list[tuple[str, int, tuple[int, int, tuple[int, int]] | None]] = []
        # z·G - S and r·Q + S coincide: the AIR cannot add them.
        two_shift = cairo_math.ec_double(shift, cairo.ALPHA, P)
        b = point_add(point_mul(2 * z, cairo.EC_GEN), point_neg(two_shift))
        r = point_mul(w, b)[0]
        q = point_mul(pow(r, -1, N), point_add(point_mul(z, cairo.EC_GEN), point_neg(two_shift)))
        crafted.append(("air: zG-S == rQ+S", z, (r, pow(w, -1, N), q) if r < SIGNABLE else None))
        # w·B = -2S: the final subtraction of the shift meets -S itself.
        minus_two_shift = point_neg(two_shift)
        crafted.append(
            ("air: wB == -2S", z, substituted_key(z, w, point_mul(pow(w, -1, N), minus_two_shift)))
        )
        # S = c·B with c = ±2^i - (w mod 2^i): w·B's double-and-add meets ±2^i·B at step i.
        for sign in (1, -1):
            step = stream.between(1, cairo.N_ELEMENT_BITS_ECDSA)
            c = (sign * 2**step - (w % 2**step)) % N
            b = point_mul(pow(c, -1, N), shift)
            crafted.append((f"air: S == c*B at step {step}", z, substituted_key(z, w, b)))
        # z = 0 is outside the AIR's multiplier range even for an otherwise valid equation.
        r_point = point_mul(stream.between(1, N), cairo.EC_GEN)
        r = r_point[0]
        if r < SIGNABLE:
            q = point_mul(pow(w * r, -1, N), r_point)
            crafted.append(("air: zero message hash", 0, (r, pow(w, -1, N), q)))
        for note, msg_hash, made in crafted:
            if made is None:
                continue
            r, s, q = made
            if not textbook_valid(msg_hash, r, s, q):
                raise SystemExit(f"cairo_crosscheck: construction '{note}' is not textbook-valid")
            yield case("verify", msg_hash, r, s, q, note=note + " (textbook-valid)")
            yield case("verify", msg_hash, r, s, q[0], note=note + ", key as x (textbook-valid)")


# --- the case mix ----------------------------------------------------------------------------


def generate(stream: Stream, scale: int) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    add = cases.append

    special_keys = [1, 2, 3, N - 1, N - 2, (N - 1) // 2, SIGNABLE - 1, 2**250]
    keys = special_keys + [stream.between(1, N) for _ in range(24 * scale)]
    # dYdX keys are keccak digests shifted right by 5: 251 bits at most.
    keys += [stream.bits(256) >> 5 or 1 for _ in range(8 * scale)]
    for key in keys:
        add(case("private_key_to_ec_point_on_stark_curve", key))
    for key in keys[:8]:
        add(case("private_to_stark_key", key))
    for bad in (0, N, -1):
        add(case("private_key_to_ec_point_on_stark_curve", bad, note="out of range"))

    for key in keys[8 : 8 + 12 * scale]:
        add(case("get_y_coordinate", cairo.private_to_stark_key(key)))
    for _ in range(20 * scale):
        add(case("get_y_coordinate", stream.below(P), note="random x, often not on the curve"))
    for _ in range(8 * scale):
        add(case("is_valid_stark_key", stream.below(P)))

    def message(index: int) -> int:
        # Cycle through bit lengths around elliptic.js's padding rule (>= 248 bits, 1-4 past a byte).
        lengths = (251, 250, 249, 248, 247, 244, 240, 200, 128, 9, 1)
        return stream.with_bit_length(lengths[index % len(lengths)])

    seeds: list[int | None] = [None, 0, 1, 2, 255, 256, 2**64 + 3, 2**255 + 7, 2**300 + 1]
    for index in range(22 * scale):
        seed = seeds[index % len(seeds)]
        add(case("generate_k_rfc6979", message(index), stream.between(1, N), seed))
    signatures = []
    for index in range(36 * scale):
        key = stream.between(1, N)
        msg_hash = message(index)
        seed = None if index % 2 == 0 else stream.bits(8 * (1 + index % 33))
        record = case("sign", msg_hash, key, seed)
        add(record)
        if index % 2 == 0:
            r, s = decode(record["expected"]["value"])
            signatures.append((msg_hash, key, r, s))
    add(case("sign", 0, 5, note="zero hash: python-ecdsa cannot encode it"))
    add(case("sign", SIGNABLE, 5, note="hash too large"))
    add(case("sign", 5, 7, -1, note="negative seed"))

    for msg_hash, key, r, s in signatures[: 12 * scale]:
        point = cairo.private_key_to_ec_point_on_stark_curve(key)
        add(case("verify", msg_hash, r, s, point[0], note="good, key as x"))
        add(case("verify", msg_hash, r, s, tuple(point), note="good, key as point"))
        add(case("verify", msg_hash, r, s, point_neg(point), note="negated key point"))
        add(case("verify", (msg_hash + 1) % SIGNABLE, r, s, point[0], note="tampered hash"))
        if r + 1 < SIGNABLE:
            add(case("verify", msg_hash, r + 1, s, point[0], note="tampered r"))
        add(case("verify", msg_hash, r, (s + 1) % N or 1, point[0], note="tampered s"))
        other = cairo.private_to_stark_key(stream.between(1, N))
        add(case("verify", msg_hash, r, s, other, note="other key"))
    msg_hash, key, r, s = signatures[0]
    x = cairo.private_to_stark_key(key)
    not_signable_w = stream.between(SIGNABLE, N)
    for bad_r, bad_s, note in (
        (0, s, "r = 0"),
        (SIGNABLE, s, "r = 2**251"),
        (r, 0, "s = 0"),
        (r, N, "s = EC_ORDER"),
        (r, pow(not_signable_w, -1, N), "s whose inverse is >= 2**251"),
    ):
        add(case("verify", msg_hash, bad_r, bad_s, x, note=note))
    add(case("verify", SIGNABLE, r, s, x, note="hash too large"))
    add(case("verify", msg_hash, r, s, (x, 12345), note="point not on the curve"))
    invalid_x = next(
        value for value in iter(lambda: stream.below(P), None) if not cairo.is_valid_stark_key(value)
    )
    add(case("verify", msg_hash, r, s, invalid_x, note="x of no point"))
    cases.extend(air_rejected_cases(stream, 2 * scale))

    edges = [0, 1, 2**248 - 1, 2**248, 2**251, P - 1]
    for _ in range(24 * scale):
        first = stream.below(P) if stream.bits(1) else stream.bits(248)
        add(case("pedersen_hash", first, stream.below(P)))
    for first in edges:
        add(case("pedersen_hash", first, edges[len(edges) - 1 - edges.index(first)]))
        add(case("pedersen_hash_as_point", first))
    add(case("pedersen_hash_as_point", stream.below(P), stream.below(P)))
    add(case("pedersen_hash"))
    add(case("pedersen_hash", P, 1, note="element not below FIELD_PRIME"))
    add(case("pedersen_hash", 1, -1, note="negative element"))
    add(case("pedersen_hash", 1, 2, 3, note="three elements"))

    for value in [1, 2, N - 1, stream.between(1, N), stream.between(1, N), -5, N + 7]:
        add(case("inv_mod_curve_size", value))
    add(case("inv_mod_curve_size", 0, note="not invertible"))
    add(case("inv_mod_curve_size", N, note="not invertible"))
    return cases


def constant_points_digest(points: Any) -> str:
    text = json.dumps([[hex(x), hex(y)] for x, y in points], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def write_frozen(path: Path, seed: bytes, cases: list[dict[str, Any]]) -> None:
    """The cases as JSON, one case per line so that a regenerated file diffs readably."""
    header = {
        "format": FORMAT,
        "generated_by": "cairo-lang 0.14.0.1 starkware.crypto.signature, by "
        "tests/crosscheck/cairo_crosscheck.py",
        "seed": seed.hex(),
        "constant_points_sha256": constant_points_digest(cairo.CONSTANT_POINTS),
    }
    fields = ("id", "op", "args", "expected", "note")
    lines = [json.dumps({key: record[key] for key in fields if key in record}) for record in cases]
    head = json.dumps(header, indent=1)[:-2]  # reopen the object to append the case list
    path.write_text(head + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n")


def timing(repeat: int = 20) -> str:
    keys = [cairo.get_random_private_key() for _ in range(repeat)]

    def best(function: Callable[[int], Any]) -> float:
        start = time.perf_counter()
        for key in keys:
            function(key)
        return (time.perf_counter() - start) / repeat * 1000

    best(ours.private_to_stark_key)  # warm-up
    return (
        f"timing: private_to_stark_key ours {best(ours.private_to_stark_key):.2f} ms, "
        f"cairo-lang {best(cairo.private_to_stark_key):.2f} ms (mean of {repeat})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", help="hex seed of the input stream (default: fresh random)")
    parser.add_argument("--scale", type=int, default=1, help="multiply the random case counts")
    parser.add_argument("--freeze", type=Path, help="write the cases as JSON to this file")
    parser.add_argument("--timing", action="store_true", help="also time private_to_stark_key")
    options = parser.parse_args(argv)
    seed = bytes.fromhex(options.seed) if options.seed else os.urandom(16)

    cases = generate(Stream(seed), max(1, options.scale))
    mismatches = 0
    for index, record in enumerate(cases):
        record["id"] = f"{record['op']}/{index}"
        problem = check(record)
        if problem:
            mismatches += 1
            print(f"MISMATCH {record['id']} args={record['args']}: {problem}", file=sys.stderr)

    table_ok = tuple(map(tuple, cairo.CONSTANT_POINTS)) == tuple(ours.CONSTANT_POINTS)
    if not table_ok:
        mismatches += 1
        print("MISMATCH CONSTANT_POINTS differ", file=sys.stderr)
    constants = ("FIELD_PRIME", "FIELD_GEN", "ALPHA", "BETA", "EC_ORDER", "N_ELEMENT_BITS_ECDSA")
    for name in (*constants, "N_ELEMENT_BITS_HASH", "SHIFT_POINT", "EC_GEN", "MINUS_SHIFT_POINT"):
        theirs = getattr(cairo, name)
        if (tuple(theirs) if isinstance(theirs, list) else theirs) != getattr(ours, name):
            mismatches += 1
            print(f"MISMATCH constant {name}", file=sys.stderr)

    if options.freeze:
        write_frozen(options.freeze, seed, cases)
    print(f"seed: {seed.hex()} (replay with --seed)")
    # The CONSTANT_POINTS table comparison counts as one more case.
    print(f"crosscheck: {len(cases) + 1} cases, {mismatches} mismatches")
    if options.timing:
        print(timing())
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
