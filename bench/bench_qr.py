"""QR transport benchmark: speed per frame, frames needed under loss, decode rate on degraded photos.

    .venv/bin/python bench/bench_qr.py [--trials 101] [--quick]

Prints markdown tables; asserts nothing. Randomness (payloads, losses, degradations) comes from
SHA-256 streams, so every run measures the same cases.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
from collections.abc import Callable, Iterator

from PIL import Image, ImageFilter, ImageOps

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.transport import qr_read, qr_render
from dydx_airgap.shared.transport.ur import cbor, frames, ur


def stream(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def uniform(seed: bytes) -> float:
    """A deterministic number in [0, 1) from a seed."""
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") / 2**64


def timed(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


# --- speed -----------------------------------------------------------------------------------


def bench_speed(quick: bool) -> None:
    payload = stream(b"speed", 8 * 1024)
    texts = frames.encode_frames(payload)
    count = len(texts)
    repeat = 3 if quick else 10
    encode_s = timed(lambda: frames.encode_frames(payload), repeat) / count
    decode_s = timed(lambda: frames.decode_frames(texts), repeat) / count
    png_s = timed(lambda: [qr_render.render_png(t) for t in texts], 1) / count
    html_s = timed(lambda: qr_render.render_html(texts, "bench"), 1) / count
    images = [Image.open(io.BytesIO(qr_render.render_png(t))) for t in texts]
    read_s = {
        backend: timed(lambda b=backend: [qr_read.decode_image(i, b) for i in images], 1) / count
        for backend in qr_read.BACKENDS
        if qr_read.backend_status(backend) is None
    }
    limit = frames.DEFAULT_MAX_FRAGMENT_LEN
    print(f"## Speed per frame (8 KiB payload, {count} frames of <= {limit} bytes)\n")
    print("| step | ms per frame |")
    print("| --- | ---: |")
    print(f"| encode text frames (UR + fountain) | {encode_s * 1e3:.3f} |")
    print(f"| decode text frames (all {count}) | {decode_s * 1e3:.3f} |")
    print(f"| draw PNG (segno, scale 4) | {png_s * 1e3:.2f} |")
    print(f"| draw HTML (inline SVG) | {html_s * 1e3:.2f} |")
    for backend, seconds in read_s.items():
        print(f"| read clean PNG ({backend}) | {seconds * 1e3:.2f} |")
    if len(read_s) == 2:
        print(f"\nzbar / zxing time per clean frame: {read_s['zbar'] / read_s['zxing']:.2f}x")
    print()


# --- frames needed under loss ----------------------------------------------------------------


def displayed_until_complete(sequence: Iterator[str], loss: float, seed: bytes, limit: int) -> int | None:
    """Frames shown until a reader that misses each one with probability ``loss`` has the payload."""
    assembler = frames.Assembler()
    for shown, text in enumerate(sequence, start=1):
        if uniform(seed + b"%d" % shown) >= loss:
            assembler.add(text)
            if assembler.is_complete:
                return shown
        if shown >= limit:
            return None
    return None


def looped(texts: list[str]) -> Iterator[str]:
    """The HTML page: the same frames over and over."""
    while True:
        yield from texts


def standard_stream(payload: bytes) -> Iterator[str]:
    """Baseline: the reference schedule, parts 1, 2, 3, ... without our mixed-part selection."""
    message = ur.UR(frames.DEFAULT_UR_TYPE, cbor.encode_byte_string(payload))
    encoder = ur.UREncoder(message, frames.DEFAULT_MAX_FRAGMENT_LEN)
    while True:
        yield ur.to_qr_text(encoder.next_part())


def fixed_set_success(payload_len: int, loss: float, trials: int) -> tuple[float, float]:
    """Success rate of a fixed exported set (ours vs consecutive parts) when ``loss`` of it is lost."""
    ours = baseline = 0
    for trial in range(trials):
        payload = stream(b"set%d" % trial, payload_len)
        texts = frames.encode_frames(payload)
        stream_iter = standard_stream(payload)
        plain = [next(stream_iter) for _ in texts]
        for candidate, is_ours in ((texts, True), (plain, False)):
            kept = [t for i, t in enumerate(candidate) if uniform(b"L%d-%d" % (trial, i)) >= loss]
            try:
                frames.decode_frames(kept)
            except FormatError:
                continue
            if is_ours:
                ours += 1
            else:
                baseline += 1
    return ours / trials, baseline / trials


# "1 KB" is taken as 1000 bytes (two frames at the default fragment limit) and 8 KiB as 8192.
SIZES = (1000, 8 * 1024)


def size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def bench_loss(trials: int) -> None:
    print(f"## Frames needed to recover a payload (median over {trials} trials)\n")
    print("Looping display (the HTML page cycles the exported frames); the reader misses each frame")
    print("with the given probability. 'shown' counts frames displayed until the payload is complete.\n")
    print("| payload | frames in set | loss | median shown (ours) | median shown (ref. schedule) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for size in SIZES:
        set_len = len(frames.encode_frames(stream(b"n", size)))
        for loss in (0.0, 0.2, 0.4):
            ours, ref = [], []
            for trial in range(trials):
                payload = stream(b"loss%d" % trial, size)
                seed = b"%d-%d-%f" % (size, trial, loss)
                exported = frames.encode_frames(payload)
                ours.append(displayed_until_complete(looped(exported), loss, seed, 10_000))
                ref.append(displayed_until_complete(standard_stream(payload), loss, seed, 10_000))
            med_ours = statistics.median(x for x in ours if x is not None)
            med_ref = statistics.median(x for x in ref if x is not None)
            print(
                f"| {size_label(size)} | {set_len} | {loss:.0%} | {med_ours:g} | {med_ref:g} | "
                f"{med_ours / med_ref:.2f} |"
            )
    print("\nFixed set (PNG files or a printout): share of trials in which the frames left after the loss")
    print("still decode, for our exported set vs the same number of consecutive reference parts.\n")
    print("| payload | loss | success (ours) | success (consecutive parts) |")
    print("| --- | ---: | ---: | ---: |")
    for size in SIZES:
        for loss in (0.2, 0.4):
            ours_rate, ref_rate = fixed_set_success(size, loss, trials)
            print(f"| {size_label(size)} | {loss:.0%} | {ours_rate:.0%} | {ref_rate:.0%} |")
    print()


# --- degraded photos -------------------------------------------------------------------------

# (name, scale, blur radius, rotation degrees, perspective skew, noise blend, JPEG quality)
LEVELS = [
    ("clean", 1.0, 0.0, 0, 0.0, 0.0, 95),
    ("mild", 0.85, 0.5, 5, 0.03, 0.06, 60),
    ("medium", 0.7, 0.8, 10, 0.06, 0.12, 30),
    ("strong", 0.6, 1.0, 12, 0.07, 0.14, 30),
    ("severe", 0.45, 1.3, 15, 0.10, 0.20, 20),
]


def degrade(png: bytes, seed: bytes, level: tuple[str, float, float, int, float, float, int]) -> Image.Image:
    _, scale, blur, degrees, skew, noise, quality = level
    h = hashlib.sha256(seed).digest()
    image = Image.open(io.BytesIO(png)).convert("L")
    if degrees:
        angle = degrees * (1 if h[0] % 2 else -1)
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = ImageOps.expand(image, border=image.width // 8, fill=255)
    w, hgt = image.size
    if skew:
        dx, dy = int(w * skew), int(hgt * skew)
        quad = (0, 0, dx, hgt, w, hgt - dy, w - dx // 2, dy // 2)
        image = image.transform((w, hgt), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC, fillcolor=255)
    image = image.resize((int(w * scale), int(hgt * scale)), Image.Resampling.BILINEAR)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        grain = Image.frombytes("L", image.size, stream(seed + b"noise", image.width * image.height))
        image = Image.blend(image, grain, noise)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def bench_degraded(quick: bool) -> None:
    texts = frames.encode_frames(stream(b"photos", 8 * 1024))
    if quick:
        texts = texts[:6]
    backends = [b for b in qr_read.BACKENDS if qr_read.backend_status(b) is None]
    print(f"## Decode success on degraded photos ({len(texts)} frames of a 8 KiB payload per level)\n")
    print("| level | " + " | ".join(backends) + (" | zxing / zbar |" if len(backends) == 2 else ""))
    print("| --- | " + " | ".join("---:" for _ in backends) + (" | ---: |" if len(backends) == 2 else ""))
    for level in LEVELS:
        rates = {}
        for backend in backends:
            ok = 0
            for index, text in enumerate(texts):
                photo = degrade(qr_render.render_png(text), b"%s-%d" % (level[0].encode(), index), level)
                ok += qr_read.decode_image(photo, backend) == [text]
            rates[backend] = ok / len(texts)
        cells = " | ".join(f"{rates[b]:.0%}" for b in backends)
        ratio = ""
        if len(backends) == 2:
            ratio = f" | {rates['zxing'] / rates['zbar']:.2f}" if rates["zbar"] else " | inf"
        print(f"| {level[0]} | {cells}{ratio} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=101, help="trials per loss level (default 101)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and photos")
    args = parser.parse_args()
    trials = min(args.trials, 21) if args.quick else args.trials
    bench_speed(args.quick)
    bench_loss(trials)
    bench_degraded(args.quick)


if __name__ == "__main__":
    main()
