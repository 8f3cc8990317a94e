"""The `export` and `import` commands, identical on both machines except for which kinds they accept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dydx_airgap.shared.cli_support import say
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import make_dirs, read_untrusted_file
from dydx_airgap.shared.transport.payload import MAX_PAYLOAD_BYTES, Payload, decode_payload
from dydx_airgap.shared.transport.secrecy import (
    PUBLIC_DIR_MODE,
    SECRET_DIR_MODE,
    carries_secret_seed,
    file_mode_for,
    secret_notice,
)

_file = click.Path(path_type=Path, dir_okay=False)
#: Payload bytes per frame in PNG files and HTML pages: a version-29 code, easy for a phone at arm's length.
DEFAULT_FRAGMENT_SIZE = 1000
#: Frames per second of the full-screen terminal display (kept here so --help needs no QR imports).
DEFAULT_FPS = 3.0


#: Called after the frames are written: the payload, its file name, and the values of ``extra_options``.
ExportHook = Callable[[Payload, str, dict[str, Any]], None]


def make_export_command(
    allowed: frozenset[str],
    machine: str,
    on_export: ExportHook | None = None,
    extra_options: tuple[Callable[[Any], Any], ...] = (),
) -> click.Command:
    """``extra_options``: click options one machine adds (the cold side's ``--evidence-log``)."""

    def with_extra_options(function: Any) -> Any:
        for option in reversed(extra_options):
            function = option(function)
        return function

    @click.command("export")
    @click.argument("payload_file", type=_file)
    @click.option(
        "--qr-dir", type=click.Path(path_type=Path, file_okay=False), help="Write frame-0001.png, ..."
    )
    @click.option(
        "--html", "html", type=_file, help="Write one self-contained offline page cycling the frames."
    )
    @click.option(
        "--terminal",
        is_flag=True,
        help="Play the frames full screen in this terminal, sized to fit it (keys: space, n, p, q).",
    )
    @click.option(
        "--static", is_flag=True, help="With --terminal: print every frame one after another (for logs)."
    )
    @click.option(
        "--fps",
        default=DEFAULT_FPS,
        show_default=True,
        type=click.FloatRange(0.5, 20),
        help="Frames per second of the --terminal display.",
    )
    @click.option(
        "--fragment-size",
        type=click.IntRange(50, 1000),
        help="Payload bytes per frame (default 1000 for files; --terminal picks the largest that fits).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @with_extra_options
    def export(
        payload_file: Path,
        qr_dir: Path | None,
        html: Path | None,
        terminal: bool,
        static: bool,
        fps: float,
        fragment_size: int | None,
        as_json: bool,
        **extra: Any,
    ) -> None:
        """Turn a payload file into QR frames (PNG files, an HTML page, or the terminal)."""
        from dydx_airgap.shared.transport.qr_render import (
            encode_frames,
            render_terminal,
            write_html,
            write_png_frames,
        )
        from dydx_airgap.shared.transport.terminal_player import play_on_this_terminal, terminal_frames_for

        if not (qr_dir or html or terminal):
            raise InputError("say where the frames go: --qr-dir DIR, --html FILE and/or --terminal")
        if static and not terminal:
            raise InputError("--static changes how --terminal draws; give --terminal too")
        animated = terminal and not static
        if animated and as_json:
            raise InputError("--terminal takes over the screen; use --terminal --static with --json")
        payload = decode_payload(read_untrusted_file(payload_file, cap=MAX_PAYLOAD_BYTES))
        if payload.kind not in allowed:
            raise InputError(f"the {machine} does not export {payload.kind} payloads")
        data = payload.to_bytes()
        label = f"{payload.kind} {payload.fingerprint}"
        if animated:
            terminal_frames = terminal_frames_for(data, fragment_size)  # refuses a too-small terminal first
        frames = encode_frames(data, max_fragment_len=fragment_size or DEFAULT_FRAGMENT_SIZE)
        secret = carries_secret_seed(payload.kind)
        mode = file_mode_for(payload.kind)
        written: list[str] = []
        if qr_dir is not None:
            make_dirs(qr_dir, SECRET_DIR_MODE if secret else PUBLIC_DIR_MODE)
            written += [str(p) for p in write_png_frames(frames, qr_dir, mode=mode)]
        if html is not None:
            written.append(str(write_html(frames, html, label, mode=mode)))
        if on_export is not None:
            on_export(payload, payload_file.name, extra)
        if animated:
            play_on_this_terminal(terminal_frames, label, fps)
            if not (qr_dir or html):
                frames = terminal_frames
        elif terminal:
            for i, frame in enumerate(frames, 1):
                click.echo(render_terminal(frame))
                say(f"frame {i}/{len(frames)}  {payload.fingerprint}")
        summary = {
            "kind": payload.kind,
            "network_id": payload.network_id,
            "address": payload.address,
            "fingerprint": payload.fingerprint,
            "key_fingerprint": payload.key_fingerprint,
            "frames": len(frames),
            "files": written,
        }
        if secret and written:
            say(f"note: frames and page {secret_notice(payload.kind)}", err=True)
        if as_json:
            click.echo(json.dumps(summary))
        else:
            say(f"exported {payload.summary()} as {len(frames)} frame(s)")

    return export


def make_import_command(
    allowed: frozenset[str], machine: str, screen: Callable[[Payload], None] | None = None
) -> click.Command:
    @click.command("import")
    @click.option(
        "--images",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Photos or screenshots of the frames (files or directories); repeatable.",
    )
    @click.option("--video", type=_file, help="A video of the cycling frames (needs the camera extra).")
    @click.option("--camera", type=int, help="Read frames live from camera N (needs the camera extra).")
    @click.option("--file", "file", type=_file, help="A payload file (e.g. from a USB stick).")
    @click.option("--backend", type=click.Choice(["zxing", "zbar"]), default="zxing", show_default=True)
    @click.option("--out", type=_file, required=True, help="Where to write the payload.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def import_(
        images: tuple[Path, ...],
        video: Path | None,
        camera: int | None,
        file: Path | None,
        backend: str,
        out: Path,
        as_json: bool,
    ) -> None:
        """Read a payload from QR images, a video, a camera or a file; verify its format; save it."""
        from dydx_airgap.shared.transport.transfer import accept, payload_from_sources, save

        data = payload_from_sources(images=images, video=video, camera=camera, file=file, backend=backend)
        payload = accept(data, allowed, machine)
        if screen is not None:
            screen(payload)
        save(payload, out)
        if carries_secret_seed(payload.kind):
            say(f"note: {out} {secret_notice(payload.kind)}", err=True)
        summary: dict[str, Any] = {
            "kind": payload.kind,
            "network_id": payload.network_id,
            "address": payload.address,
            "fingerprint": payload.fingerprint,
            "key_fingerprint": payload.key_fingerprint,
            "file": str(out),
        }
        if as_json:
            click.echo(json.dumps(summary))
        else:
            say(f"imported {payload.summary()} -> {out}")

    return import_
