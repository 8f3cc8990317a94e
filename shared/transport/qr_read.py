"""Reading QR frames back: from image files, video files or a camera, into payload bytes.

Two decoders are supported: ``zxing`` (zxing-cpp, the default and the more tolerant of blur, skew
and noise) and ``zbar`` (pyzbar over the system libzbar0), kept as an independent second opinion.
Video and camera input need the optional ``camera`` extra (opencv-python-headless).

    payload = read_images(sorted(Path("scan").glob("*.jpg")))   # any order, some may be missing
    payload = decode_frames(read_camera(0))                     # stops as soon as it is complete
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.fsutil import read_untrusted_file, require_regular_file
from dydx_airgap.shared.transport.ur.frames import Assembler, decode_frames

__all__ = [
    "BACKENDS",
    "Assembler",
    "backend_status",
    "decode_frames",
    "decode_image",
    "read_camera",
    "read_images",
    "read_video",
]

BACKENDS = ("zxing", "zbar")
# Pillow refuses images above this many pixels (decompression bombs); a phone photo is ~12-50 MP.
_MAX_PIXELS = 64_000_000
_MAX_IMAGE_FILE = 64 * 1024 * 1024
#: Pixels decoded in one import, all images together: some fifty 12 MP phone photos, while a directory of
#: 64 MP images cannot keep the machine decoding for hours.
MAX_TOTAL_PIXELS = 640_000_000
MAX_IMAGES = 2000
_CAMERA_HINT = "reading video needs OpenCV: pip install 'dydx-airgap[camera]' (opencv-python-headless)"

_Decoder = Callable[[Image.Image], list[str]]


def _zxing_decoder() -> _Decoder:
    import zxingcpp

    def decode(image: Image.Image) -> list[str]:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
        return [str(barcode.text) for barcode in found if barcode.valid]

    return decode


def _zbar_decoder() -> _Decoder:
    from pyzbar import pyzbar

    def decode(image: Image.Image) -> list[str]:
        found = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
        return [bytes(symbol.data).decode("utf-8", errors="replace") for symbol in found]

    return decode


_FACTORIES: dict[str, Callable[[], _Decoder]] = {"zxing": _zxing_decoder, "zbar": _zbar_decoder}
_loaded: dict[str, _Decoder | str] = {}


def _backend(name: str) -> _Decoder | str:
    """The decode function of a backend, or one line saying why it is unavailable."""
    if name not in _FACTORIES:
        raise InputError(f"unknown QR backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name not in _loaded:
        try:
            _loaded[name] = _FACTORIES[name]()
        except (ImportError, OSError) as exc:
            detail = " ".join(str(exc).split())[:120]
            package = "zxing-cpp" if name == "zxing" else "pyzbar and the libzbar0 system library"
            _loaded[name] = f"QR backend {name} is unavailable ({detail}); install {package}"
    return _loaded[name]


def backend_status(name: str) -> str | None:
    """None when the backend can be used, else a one-line reason."""
    loaded = _backend(name)
    return loaded if isinstance(loaded, str) else None


def _require(name: str) -> _Decoder:
    loaded = _backend(name)
    if isinstance(loaded, str):
        raise InputError(loaded)
    return loaded


def _attempts(image: Image.Image) -> Iterator[Image.Image]:
    """The image as given, then cheap clean-ups that rescue blurred, noisy or small photos."""
    gray = ImageOps.grayscale(image)
    yield gray
    yield ImageOps.autocontrast(gray.filter(ImageFilter.MedianFilter(3)))
    yield gray.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=0))
    if max(gray.size) < 1600:
        yield gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)


def decode_image(image: Image.Image, backend: str = "zxing") -> list[str]:
    """All QR texts found in one image, trying a few clean-ups until something decodes."""
    decode = _require(backend)
    for attempt in _attempts(image):
        texts = decode(attempt)
        if texts:
            return texts
    return []


def _open_image(path: Path) -> Image.Image:
    # Read once like any untrusted file: a symlink or a FIFO named *.png is refused, never followed or
    # waited on, and Pillow parses only these bytes.
    data = read_untrusted_file(path, cap=_MAX_IMAGE_FILE)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > _MAX_PIXELS:
                raise InputError(f"image {path} has too many pixels to be a QR photo")
            image = ImageOps.exif_transpose(opened)
            image.load()
            return image
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"{path} is not a readable image (PNG or JPEG)") from exc


def _header_pixels(path: Path) -> int:
    data = read_untrusted_file(path, cap=_MAX_IMAGE_FILE)
    try:
        with Image.open(io.BytesIO(data)) as opened:  # reads the header only
            return int(opened.width * opened.height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"{path} is not a readable image (PNG or JPEG)") from exc


def _check_total(pixels: list[int], paths: list[Path]) -> None:
    if sum(pixels) > MAX_TOTAL_PIXELS:
        raise InputError(
            f"the {len(paths)} images of this import hold {sum(pixels) // 1_000_000} million pixels, more "
            f"than the {MAX_TOTAL_PIXELS // 1_000_000} million one import may decode: use fewer or smaller "
            "images"
        )


def read_images(paths: Iterable[str | Path], backend: str = "zxing") -> bytes:
    """The payload carried by QR frames in image files (any order; redundant frames may be missing).

    Images in which no QR code is found are skipped; so are frames that fail their checksum (a
    misread). Raises ``FormatError`` when the frames do not complete one payload, naming what is
    missing, and ``InputError`` for an unreadable path or an unavailable backend.
    """
    _require(backend)
    files = [Path(p) for p in paths]
    if len(files) > MAX_IMAGES:
        raise InputError(f"{len(files)} images in one import; at most {MAX_IMAGES}")
    # The budget is checked from the image headers before anything is decoded, then again on what is
    # decoded (a file may change in between), so no import decodes more than MAX_TOTAL_PIXELS.
    _check_total([_header_pixels(p) for p in files], files)
    assembler = Assembler(strict=False)
    pixels: list[int] = []
    for path in files:
        image = _open_image(path)
        pixels.append(image.width * image.height)
        _check_total(pixels, files)
        for text in decode_image(image, backend):
            assembler.add(text)
        if assembler.is_complete:
            break
    return assembler.result()


def _cv2() -> Any:
    try:
        return importlib.import_module("cv2")
    except ImportError as exc:
        raise InputError(_CAMERA_HINT) from exc


def _read_capture(capture: Any, source: str, backend: str, max_frames: int | None) -> Iterator[str]:
    decode = _require(backend)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"cannot open {source}")
    return _capture_texts(capture, decode, max_frames)


def _capture_texts(capture: Any, decode: _Decoder, max_frames: int | None) -> Iterator[str]:
    previous: set[str] = set()
    grabbed = 0
    try:
        while max_frames is None or grabbed < max_frames:
            ok, frame = capture.read()
            if not ok:
                return
            grabbed += 1
            # One plain attempt per video frame: the next frame is a fresh chance anyway.
            texts = decode(Image.fromarray(frame[:, :, ::-1]) if frame.ndim == 3 else Image.fromarray(frame))
            # A frame stays on screen for several video frames: report it once per appearance.
            for text in texts:
                if text not in previous:
                    yield text
            previous = set(texts)
    finally:
        capture.release()


def read_video(path: str | Path, backend: str = "zxing", max_frames: int | None = None) -> Iterator[str]:
    """QR texts found in a video file, in order of appearance.

    Use ``decode_frames(read_video(path), strict=False)`` to get the payload: it stops reading as soon
    as the payload is complete, and skips the rare misread frame. Raises ``InputError`` at once when
    OpenCV is missing or the file cannot be opened.
    """
    cv2 = _cv2()
    source = Path(path)
    require_regular_file(source, "video file")
    return _read_capture(cv2.VideoCapture(str(source)), f"video {source}", backend, max_frames)


def read_camera(index: int = 0, backend: str = "zxing", max_frames: int | None = None) -> Iterator[str]:
    """QR texts seen by camera ``index`` as they appear, until the consumer stops or ``max_frames``
    video frames were grabbed; ``decode_frames(read_camera(0), strict=False)`` stops on completion."""
    cv2 = _cv2()
    return _read_capture(cv2.VideoCapture(int(index)), f"camera {index}", backend, max_frames)
