"""QR drawing and reading: PNG frames, degraded photos, the second backend, terminal and HTML output.

Every test goes through real images: segno draws, zxing-cpp / zbar read, Pillow degrades, and the
HTML page is screenshotted by headless Chromium. Test bytes come from SHA-256 streams.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageOps

from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.transport import qr_read, qr_render
from dydx_airgap.shared.transport.ur import frames as ur_frames

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def stream(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


@pytest.fixture(scope="module")
def payload_8k() -> bytes:
    return stream(b"qr-8k", 8 * 1024)


@pytest.fixture(scope="module")
def frames_8k(payload_8k: bytes) -> list[str]:
    return qr_render.encode_frames(payload_8k)


def qr_png(text: str, path: Path) -> Path:
    """A QR code of arbitrary text (for foreign and damaged frames), drawn with segno directly."""
    import segno

    segno.make_qr(text, error="M").save(str(path), scale=4, border=4)
    return path


# --- PNG round trip --------------------------------------------------------------------------


def test_8k_payload_through_png_frames(tmp_path: Path, payload_8k: bytes, frames_8k: list[str]) -> None:
    paths = qr_render.write_png_frames(frames_8k, tmp_path)
    assert [p.name for p in paths] == [f"frame-{n:04d}.png" for n in range(1, len(frames_8k) + 1)]
    assert sorted(tmp_path.iterdir()) == paths  # no temporary files left behind
    assert stat.S_IMODE(paths[0].stat().st_mode) == 0o644
    for path, frame in zip(paths, frames_8k, strict=True):
        with Image.open(path) as image:
            assert qr_read.decode_image(image) == [frame]
    # Any order, and only the pure frames are needed.
    assert qr_read.read_images(reversed(paths)) == payload_8k
    assert len(frames_8k) == 18  # 9 pure + 9 mixed
    assert qr_read.read_images(paths[:9]) == payload_8k


def test_frames_use_alphanumeric_mode_level_m_or_better(frames_8k: list[str]) -> None:
    for frame in frames_8k[:3]:
        code = qr_render.make_qr(frame)
        assert code.mode == "alphanumeric"
        assert code.error in {"M", "Q", "H"}
        assert not code.is_micro


def test_write_png_frames_needs_an_existing_directory(tmp_path: Path, frames_8k: list[str]) -> None:
    with pytest.raises(InputError, match="does not exist"):
        qr_render.write_png_frames(frames_8k, tmp_path / "missing")
    with pytest.raises(InputError, match="no frames"):
        qr_render.write_png_frames([], tmp_path)


# --- degraded photos -------------------------------------------------------------------------


def degrade(png: bytes, seed: bytes) -> bytes:
    """A poor photo of a screen: rotation 5-15 degrees, perspective skew, scaled down, blur, noise,
    JPEG quality 30. The parameters vary per frame, derived from ``seed``."""
    h = hashlib.sha256(seed).digest()
    image = Image.open(io.BytesIO(png)).convert("L")
    angle = (5 + h[0] % 11) * (1 if h[1] % 2 else -1)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = ImageOps.expand(image, border=image.width // 8, fill=255)
    w, hgt = image.size
    skew = 0.05 + (h[2] % 4) / 100  # 5-8 % of the side
    quad = (0, 0, int(w * skew), hgt, w, hgt - int(hgt * skew), w - int(w * skew / 2), int(hgt * skew / 2))
    image = image.transform((w, hgt), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC, fillcolor=255)
    scale = 0.65 + (h[3] % 10) / 100  # to 65-74 % of the rendered size
    image = image.resize((int(w * scale), int(hgt * scale)), Image.Resampling.BILINEAR)
    image = image.filter(ImageFilter.GaussianBlur(0.6 + (h[4] % 5) / 10))
    noise = Image.frombytes("L", image.size, stream(seed + b"noise", image.width * image.height))
    image = Image.blend(image, noise, 0.12)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=30)
    return out.getvalue()


def test_degraded_photos_with_20_percent_lost(
    tmp_path: Path, payload_8k: bytes, frames_8k: list[str], figure
) -> None:
    # Drop the 20 % of frames whose hash is smallest; the design needs a pure frame among them.
    ranked = sorted(range(len(frames_8k)), key=lambda i: hashlib.sha256(b"drop%d" % i).digest())
    dropped = set(ranked[: round(len(frames_8k) * 0.2)])
    assert any(i < 9 for i in dropped), "the test must lose a pure frame so mixed frames are needed"
    photos = []
    for index, frame in enumerate(frames_8k):
        if index in dropped:
            continue
        photo = tmp_path / f"photo-{index:02d}.jpg"
        photo.write_bytes(degrade(qr_render.render_png(frame), b"photo%d" % index))
        photos.append(photo)
    assert qr_read.read_images(photos) == payload_8k
    figure(
        f"transport: {len(payload_8k)}-byte payload recovered from {len(photos)} degraded photos "
        f"({len(dropped)} of {len(frames_8k)} frames dropped; rotation, skew, blur, noise, JPEG 30)"
    )


# --- second backend --------------------------------------------------------------------------


def test_zbar_backend_reads_the_same_frames(tmp_path: Path, payload_8k: bytes, frames_8k: list[str]) -> None:
    assert qr_read.backend_status("zbar") is None, qr_read.backend_status("zbar")
    paths = qr_render.write_png_frames(frames_8k, tmp_path)
    for path, frame in zip(paths, frames_8k, strict=True):
        with Image.open(path) as image:
            assert qr_read.decode_image(image, "zbar") == [frame]
    assert qr_read.read_images(paths, backend="zbar") == payload_8k


def test_unavailable_backend_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing_library() -> qr_read._Decoder:
        raise ImportError("Unable to find zbar shared library\n(second line)")

    monkeypatch.setitem(qr_read._FACTORIES, "zbar", missing_library)
    monkeypatch.setattr(qr_read, "_loaded", {})
    status = qr_read.backend_status("zbar")
    assert status is not None
    assert "\n" not in status
    assert "zbar" in status
    assert "libzbar0" in status
    with pytest.raises(InputError, match="unavailable"):
        qr_read.read_images([], backend="zbar")
    with pytest.raises(InputError, match="unknown QR backend"):
        qr_read.backend_status("quagga")


# --- bad input -------------------------------------------------------------------------------


def test_foreign_qr_codes_are_rejected(tmp_path: Path) -> None:
    url = qr_png("https://example.com/airdrop?claim=1", tmp_path / "url.png")
    text = qr_png(stream(b"random", 40).hex(), tmp_path / "random.png")
    with pytest.raises(FormatError, match=r"not x-dydx-airgap frames .*https://example\.com"):
        qr_read.read_images([url, text])


def test_mixed_messages_are_refused(tmp_path: Path) -> None:
    one = qr_render.encode_frames(stream(b"one", 3000))
    two = qr_render.encode_frames(stream(b"two", 3000))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = qr_render.write_png_frames(one[:2], tmp_path / "a") + qr_render.write_png_frames(
        two[2:3], tmp_path / "b"
    )
    with pytest.raises(FormatError, match="different message"):
        qr_read.read_images(paths)


def test_corrupt_and_truncated_frames_do_not_complete(tmp_path: Path) -> None:
    frames = qr_render.encode_frames(stream(b"short", 1500))
    assert len(frames) == 4  # 2 pure + 2 mixed
    # A frame whose text was cut short, and one with a word changed (Bytewords checksum fails).
    cut = qr_png(frames[1][:-10], tmp_path / "cut.png")
    word = frames[1][-20:-18]
    flipped = qr_png(
        frames[1][:-20] + ("AE" if word != "AE" else "AD") + frames[1][-18:], tmp_path / "flip.png"
    )
    good = qr_render.write_png_frames(frames[:1], tmp_path)
    with pytest.raises(FormatError, match="1 of 2 fragments"):
        qr_read.read_images([*good, cut, flipped])
    with pytest.raises(FormatError, match="no readable x-dydx-airgap frame"):
        qr_read.read_images([cut])


def test_unreadable_files(tmp_path: Path, frames_8k: list[str]) -> None:
    png = qr_render.render_png(frames_8k[0])
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png[: len(png) // 2])
    with pytest.raises(FormatError, match="not a readable image"):
        qr_read.read_images([truncated])
    text = tmp_path / "notes.txt"
    text.write_text("UR:X-DYDX-AIRGAP/not an image\n")
    with pytest.raises(FormatError, match="not a readable image"):
        qr_read.read_images([text])
    with pytest.raises(InputError, match="no such file"):
        qr_read.read_images([tmp_path / "missing.png"])
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 300), 255).save(blank)
    with pytest.raises(FormatError, match="no QR frame was read"):
        qr_read.read_images([blank])


# --- terminal --------------------------------------------------------------------------------


def test_terminal_drawing_scans_back() -> None:
    frame = qr_render.encode_frames(b"terminal payload " * 4)[0]
    text = qr_render.render_terminal(frame)
    lines = text.rstrip("\n").split("\n")
    assert set("".join(lines)) <= {" ", "\u2580", "\u2584", "\u2588"}
    # Lit glyph halves are light modules (a light-on-dark terminal); rebuild the bitmap and scan it.
    width = len(lines[0])
    image = Image.new("L", (width, 2 * len(lines)), 0)
    for y, line in enumerate(lines):
        for x, char in enumerate(line):
            if char in "\u2588\u2580":
                image.putpixel((x, 2 * y), 255)
            if char in "\u2588\u2584":
                image.putpixel((x, 2 * y + 1), 255)
    image = image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)
    assert qr_read.decode_image(image) == [frame]


# --- HTML page -------------------------------------------------------------------------------


def test_html_page_is_self_contained(tmp_path: Path) -> None:
    frames = qr_render.encode_frames(stream(b"html", 2500))
    page = qr_render.write_html(frames, tmp_path / "frames.html", 'Request <script>alert("x")</script>')
    html = page.read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script src" not in html
    assert html.count('class="frame"') == len(frames)
    assert "#frame=" in html or "frame=(" in html


def _screenshot(url: str, out: Path, profile: Path, extra: tuple[str, ...] = ()) -> Image.Image:
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--window-size=800,900",
            "--hide-scrollbars",
            *extra,
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    with Image.open(out) as image:
        image.load()
        return image


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (make installs it)")
def test_html_screenshots_decode_back_to_the_payload(tmp_path: Path) -> None:
    payload = stream(b"browser", 2500)
    frames = qr_render.encode_frames(payload)
    assert len(frames) == 6  # 3 pure + 3 mixed
    page = qr_render.write_html(frames, tmp_path / "frames.html", "Browser test")
    read: list[str] = []
    for number in range(1, len(frames) + 1):
        profile = tmp_path / f"profile-{number}"
        profile.mkdir()
        shot = _screenshot(f"{page.as_uri()}#frame={number}", tmp_path / f"shot-{number}.png", profile)
        texts = qr_read.decode_image(shot)
        assert texts == [frames[number - 1]]
        read.extend(texts)
    assert ur_frames.decode_frames(read) == payload
    # Without #frame the page animates: after ~1 s of virtual time it shows a later frame.
    profile = tmp_path / "profile-anim"
    profile.mkdir()
    shot = _screenshot(page.as_uri(), tmp_path / "anim.png", profile, ("--virtual-time-budget=1000",))
    shown = qr_read.decode_image(shot)
    assert len(shown) == 1
    assert shown[0] in frames[1:]


# --- video -----------------------------------------------------------------------------------


def test_video_file_is_read_frame_by_frame(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2", reason="optional 'camera' extra (opencv-python-headless) not installed")
    import numpy as np

    payload = stream(b"video", 3000)
    frames = qr_render.encode_frames(payload)
    video = tmp_path / "scan.avi"
    size = 640
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size, size))
    assert writer.isOpened()
    for frame in frames[1:]:  # the first frame never made it to the recording
        with Image.open(io.BytesIO(qr_render.render_png(frame))) as image:
            picture = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.NEAREST))
        for _ in range(3):  # each QR stays on screen for several video frames
            writer.write(np.ascontiguousarray(picture[:, :, ::-1]))
    writer.release()
    texts = list(qr_read.read_video(video))
    assert texts == frames[1:]  # each frame reported once, in order
    assert ur_frames.decode_frames(texts, strict=False) == payload
    assert list(qr_read.read_video(video, max_frames=4)) == frames[1:3]


def test_video_without_opencv_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # what Python sees when the package is absent
    with pytest.raises(InputError, match=r"pip install 'dydx-airgap\[camera\]'"):
        qr_read.read_video(tmp_path / "scan.avi")
    with pytest.raises(InputError, match="opencv-python-headless"):
        qr_read.read_camera(0)
