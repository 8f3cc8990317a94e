"""Moving payloads across the gap: the import side both machines share (which way each kind goes is in
kinds.py).

Every import ends the same way: bytes (from QR frames or a file) → strict payload decoding → a check that
this kind is meant to travel in this direction → an atomic write → a one-line summary (kind, network,
address, fingerprint) for the operator to compare with the other screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.transport.payload import (
    MAX_PAYLOAD_BYTES,
    Payload,
    decode_payload,
)
from dydx_airgap.shared.transport.secrecy import file_mode_for


def payload_from_sources(
    *,
    images: Iterable[Path] = (),
    video: Path | None = None,
    camera: int | None = None,
    file: Path | None = None,
    backend: str = "zxing",
) -> bytes:
    """Reassemble payload bytes from exactly one kind of source."""
    images = list(images)
    chosen = [bool(images), video is not None, camera is not None, file is not None]
    if sum(chosen) != 1:
        raise InputError("name exactly one source: --images, --video, --camera or --file")
    if file is not None:
        return read_untrusted_file(file, cap=MAX_PAYLOAD_BYTES)
    from dydx_airgap.shared.transport.qr_read import decode_frames, read_camera, read_images, read_video

    if images:
        paths: list[Path] = []
        for item in images:
            if item.is_symlink():
                raise InputError(f"{item} is a symbolic link: refusing to follow it; pass the real path")
            if item.is_dir():
                # Every entry is then read by read_untrusted_file: links, FIFOs and devices are refused there.
                found = sorted(p for p in item.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
                if not found:
                    raise InputError(f"{item} holds no .png or .jpg images")
                paths.extend(found)
            else:
                paths.append(item)
        return read_images(paths, backend=backend)
    if video is not None:
        return decode_frames(read_video(video, backend=backend), strict=False)
    assert camera is not None
    return decode_frames(read_camera(camera, backend=backend), strict=False)


def accept(data: bytes, allowed: frozenset[str], machine: str) -> Payload:
    payload = decode_payload(data)
    if payload.kind not in allowed:
        raise InputError(
            f"a payload of kind {payload.kind} is not meant for the {machine}; "
            f"it accepts {', '.join(sorted(allowed))}"
        )
    return payload


def save(payload: Payload, out: Path) -> Path:
    if out.exists():
        raise InputError(f"{out} already exists: choose another --out")
    return atomic_write_bytes(out, payload.to_bytes(), file_mode_for(payload.kind))
