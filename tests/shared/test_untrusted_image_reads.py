"""Finding 9: ``import --images`` reads like every untrusted read — no symlink followed, no FIFO waited on —
and one import decodes at most a fixed budget of pixels, all images together."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from PIL import Image

from dydx_airgap.shared.transport.payload import new_payload
from dydx_airgap.shared.transport.qr_read import MAX_TOTAL_PIXELS
from dydx_airgap.shared.transport.qr_render import encode_frames, write_png_frames
from tests.conftest import run_tool


def _frames(directory: Path) -> list[Path]:
    payload = new_payload("time", 1, None, {"server_time": "2026-01-01T00:00:00.000Z",
                                            "relay_time": "2026-01-01T00:00:00.000Z", "source": "x"})  # fmt: skip
    directory.mkdir()
    return write_png_frames(encode_frames(payload.to_bytes()), directory)


def _refused(tmp_path: Path, *images: Path, timeout: float = 30) -> bool:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.json"
    args = [a for image in images for a in ("--images", str(image))]
    try:
        r = run_tool("dydx-offline", "import", *args, "--out", out, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False  # blocked: the bug itself
    return r.code != 0 and "Traceback" not in r.err and len(r.err_lines) == 1 and not out.exists()


def test_links_and_fifos_among_images_are_refused_without_blocking(tmp_path: Path, figure) -> None:
    frames = _frames(tmp_path / "frames")
    with_link = tmp_path / "with-link"
    with_link.mkdir()
    (with_link / "frame-0001.png").symlink_to(frames[0])
    with_fifo = tmp_path / "with-fifo"
    with_fifo.mkdir()
    os.mkfifo(with_fifo / "frame-0001.png")
    linked_file = tmp_path / "linked.png"
    linked_file.symlink_to(frames[0])
    linked_dir = tmp_path / "linked-dir"
    linked_dir.symlink_to(tmp_path / "frames")
    cases = [with_link, with_fifo, with_fifo / "frame-0001.png", linked_file, linked_dir]
    refused = sum(_refused(tmp_path, case, timeout=20) for case in cases)
    figure(f"imports: symlinked or FIFO images refused without blocking in {refused} of {len(cases)}")
    assert refused == len(cases)
    assert run_tool("dydx-offline", "import", "--images", frames[0], "--out", tmp_path / "ok.json").code == 0


def test_one_import_decodes_a_bounded_number_of_pixels(tmp_path: Path, figure) -> None:
    big = tmp_path / "big"
    big.mkdir()
    side = 8000  # 64 MP each: the per-image limit
    count = MAX_TOTAL_PIXELS // (side * side) + 1
    blank = Image.new("1", (side, side), 1)
    for i in range(count):
        blank.save(big / f"blank-{i:02d}.png")
    refused = _refused(tmp_path, big, timeout=60)
    figure(
        f"imports: {count} images of {side * side // 10**6} MP (over the {MAX_TOTAL_PIXELS // 10**6} MP budget) refused before decoding: {refused}"
    )
    assert refused
