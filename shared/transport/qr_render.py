"""Drawing QR frames: PNG files, terminal text, and one self-contained animated HTML page.

Frames are the upper-case UR texts from ``encode_frames``; every character is in the QR
alphanumeric set, so segno picks alphanumeric mode (about 5.5 bits a character instead of 8).
Error correction is level M (segno raises it further only when that costs no extra modules), with
the standard four-module quiet zone.

    frames = encode_frames(payload)
    write_png_frames(frames, out_dir)              # frame-0001.png, frame-0002.png, ...
    write_html(frames, out_dir / "frames.html", "Onboarding request")
    print(render_terminal(frames[0]))
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import segno

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import atomic_write_bytes
from dydx_airgap.shared.transport.ur.frames import encode_frames

__all__ = [
    "DEFAULT_PNG_SCALE",
    "QUIET_ZONE",
    "encode_frames",
    "make_qr",
    "render_html",
    "render_png",
    "render_terminal",
    "write_html",
    "write_png_frames",
]

ERROR_LEVEL = "M"
QUIET_ZONE = 4  # modules of light border, as ISO/IEC 18004 asks
DEFAULT_PNG_SCALE = 4  # pixels per module: a version-29 frame is 564 px square
DEFAULT_INTERVAL_MS = 400
_MAX_FRAMES = 10_000


def make_qr(frame: str) -> segno.QRCode:
    """The QR code (level M or better, never Micro QR) for one frame text."""
    try:
        return segno.make_qr(frame, error=ERROR_LEVEL)
    except segno.DataOverflowError as exc:
        raise InputError(
            f"frame of {len(frame)} characters does not fit in a QR code; use smaller fragments"
        ) from exc


def _check_frames(frames: Sequence[str]) -> None:
    if not frames:
        raise InputError("there are no frames to draw")
    if len(frames) > _MAX_FRAMES:
        raise InputError(f"{len(frames)} frames is more than the {_MAX_FRAMES} this tool draws")


def render_png(frame: str, scale: int = DEFAULT_PNG_SCALE) -> bytes:
    """PNG bytes of one frame (black on white, 1-bit, with the quiet zone)."""
    buffer = io.BytesIO()
    make_qr(frame).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def write_png_frames(
    frames: Sequence[str], directory: str | Path, scale: int = DEFAULT_PNG_SCALE, mode: int = 0o644
) -> list[Path]:
    """Write every frame as ``frame-0001.png``, ``frame-0002.png``, ... in ``directory``.

    Each file is written atomically; the directory must exist. Returns the paths in frame order.
    """
    _check_frames(frames)
    target = Path(directory)
    if not target.is_dir():
        raise InputError(f"output directory {target} does not exist; create it first")
    paths = []
    for number, frame in enumerate(frames, start=1):
        paths.append(atomic_write_bytes(target / f"frame-{number:04d}.png", render_png(frame, scale), mode))
    return paths


def render_terminal(frame: str) -> str:
    """One frame drawn with Unicode half blocks (two module rows per text line), quiet zone included.

    A version-29 frame is 145 columns wide: pass a smaller ``max_fragment_len`` to ``encode_frames``
    (about 200 bytes keeps a frame under 80 columns) when the frames are meant for a terminal.
    """
    buffer = io.StringIO()
    make_qr(frame).terminal(out=buffer, compact=True, border=QUIET_ZONE)
    return buffer.getvalue()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
html, body {{ margin: 0; background: #fff; color: #000; font: 16px/1.3 sans-serif; }}
main {{ display: flex; flex-direction: column; align-items: center; padding: 8px; }}
h1 {{ font-size: 18px; margin: 4px 0; }}
#counter {{ font-variant-numeric: tabular-nums; margin: 4px 0; }}
.frame svg {{ display: block; width: min(92vw, calc(100vh - 90px)); height: auto;
  shape-rendering: crispEdges; }}
.animated .frame {{ display: none; }}
.animated .frame.current {{ display: block; }}
</style>
</head>
<body>
<main id="player">
<h1>{title}</h1>
<div id="counter">{count} frames</div>
{frames}
</main>
<script>
(function () {{
  "use strict";
  var frames = document.querySelectorAll(".frame");
  var counter = document.getElementById("counter");
  var player = document.getElementById("player");
  var intervalMs = {interval};
  var current = 0;
  var timer = null;
  function show(index) {{
    frames[current].classList.remove("current");
    current = index;
    frames[current].classList.add("current");
    counter.textContent = "frame " + (current + 1) + " / " + frames.length;
  }}
  function fromHash() {{
    var match = /^#frame=(\\d+)$/.exec(window.location.hash);
    if (timer !== null) {{ clearInterval(timer); timer = null; }}
    if (match && +match[1] >= 1 && +match[1] <= frames.length) {{
      show(+match[1] - 1);
    }} else {{
      show(current);
      if (frames.length > 1) {{
        timer = setInterval(function () {{ show((current + 1) % frames.length); }}, intervalMs);
      }}
    }}
  }}
  player.classList.add("animated");
  window.addEventListener("hashchange", fromHash);
  fromHash();
}}());
</script>
</body>
</html>
"""


def render_html(frames: Sequence[str], title: str, interval_ms: int = DEFAULT_INTERVAL_MS) -> str:
    """A standalone page that cycles through the frames (inline SVG, inline script, no network).

    The page shows one frame every ``interval_ms`` with a "frame N / M" counter; opening it with
    ``#frame=N`` (1-based) shows frame N and stops the animation. Without JavaScript every frame is
    shown, one under the other, so the page can also be printed.
    """
    _check_frames(frames)
    if not 50 <= interval_ms <= 60_000:
        raise InputError("interval_ms must be between 50 and 60000")
    blocks = []
    for number, frame in enumerate(frames, start=1):
        svg = make_qr(frame).svg_inline(
            border=QUIET_ZONE, omitsize=True, dark="#000", light="#fff", title=f"frame {number}"
        )
        blocks.append(f'<div class="frame" id="f{number}">{svg}</div>')
    return _PAGE.format(
        title=html.escape(title, quote=True),
        count=len(frames),
        frames="\n".join(blocks),
        interval=json.dumps(int(interval_ms)),
    )


def write_html(
    frames: Sequence[str],
    path: str | Path,
    title: str,
    interval_ms: int = DEFAULT_INTERVAL_MS,
    mode: int = 0o644,
) -> Path:
    """Write ``render_html(frames, title, interval_ms)`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(Path(path), render_html(frames, title, interval_ms).encode("utf-8"), mode)
