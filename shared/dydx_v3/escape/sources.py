"""Where escape data comes from, parsed strictly: the explorer's page, a JSON file, an updateState call.

The explorer (L2BEAT's StarkEx Explorer, dYdX's at explorer.dydx.exchange) renders the data for
``verifyEscape`` as the ``data-props`` JSON of the form ``verify-escape-request-form`` on
``/escape/<positionId>`` (escape-hatch.md §A6). The same fields may be saved as a JSON file, and the
project's vector file (``escape-mainnet-pos1.json``) has them under its own names; all three become one
``EscapeData``. Nothing here trusts the data: the verifier checks it, and the relay checks the shared state
against the last ``updateState`` call's program output, parsed here as the contract parses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address

ESCAPE_FORM_ID = "verify-escape-request-form"
#: An explorer page or escape file larger than this is not escape data (a real page is ~30 kB).
MAX_SOURCE_BYTES = 4 * 1024 * 1024
_MAX_WORDS = 10_000
_MAX_DIGITS = 80


@dataclass(frozen=True)
class EscapeData:
    """The words ``verifyEscape`` takes, plus what the source says they are about (checked later)."""

    stark_key: int
    position_id: int
    n_assets: int
    merkle_proof: tuple[int, ...]
    shared_state: tuple[int, ...]
    escape_verifier: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The explorer's ``data-props`` field names, decimal strings for words (what ``--file`` reads)."""
        body: dict[str, Any] = {
            "starkKey": f"0x{self.stark_key:064x}",
            "positionOrVaultId": str(self.position_id),
            "tradingMode": "perpetual",
            "assetCount": self.n_assets,
            "serializedMerkleProof": [str(word) for word in self.merkle_proof],
            "serializedState": [str(word) for word in self.shared_state],
        }
        if self.escape_verifier is not None:
            body["escapeVerifierAddress"] = self.escape_verifier
        return body


def _word(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise FormatError(f"{where} is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= _MAX_DIGITS:
        text = value.strip()
        try:
            number = int(text, 16) if text[:2] in ("0x", "0X") else int(text, 10) if text.isdigit() else -1
        except ValueError:
            number = -1
    else:
        raise FormatError(f"{where} is not a number (decimal or 0x-hex string)")
    if not 0 <= number < 2**256:
        raise FormatError(f"{where} is not a 256-bit unsigned number")
    return number


def _words(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= _MAX_WORDS:
        raise FormatError(f"{where} must be a non-empty list of at most {_MAX_WORDS} numbers")
    return tuple(_word(item, f"{where}[{index}]") for index, item in enumerate(value))


def escape_data_from_json(data: Mapping[str, Any], where: str = "the escape data") -> EscapeData:
    """Either the explorer's ``data-props`` fields or the vector file's; unknown shapes are refused."""
    if not isinstance(data, Mapping):
        raise FormatError(f"{where} is not a JSON object")
    if "serializedMerkleProof" in data:
        trading_mode = data.get("tradingMode", "perpetual")
        if trading_mode != "perpetual":
            raise FormatError(f"{where} is for a {str(trading_mode)[:20]!r} exchange, not a perpetual one")
        verifier = data.get("escapeVerifierAddress")
        return EscapeData(
            stark_key=_word(data.get("starkKey"), f"{where}: starkKey"),
            position_id=_word(data.get("positionOrVaultId"), f"{where}: positionOrVaultId"),
            n_assets=_word(data.get("assetCount"), f"{where}: assetCount"),
            merkle_proof=_words(data.get("serializedMerkleProof"), f"{where}: serializedMerkleProof"),
            shared_state=_words(data.get("serializedState"), f"{where}: serializedState"),
            escape_verifier=None
            if verifier is None
            else to_checksum_address(parse_address(str(verifier)[:100])),
        )
    if "merkle_proof" in data:
        return EscapeData(
            stark_key=_word(data.get("stark_key"), f"{where}: stark_key"),
            position_id=_word(data.get("position_id"), f"{where}: position_id"),
            n_assets=_word(data.get("n_assets"), f"{where}: n_assets"),
            merkle_proof=_words(data.get("merkle_proof"), f"{where}: merkle_proof"),
            shared_state=_words(data.get("shared_state"), f"{where}: shared_state"),
        )
    raise FormatError(
        f"{where} has neither the explorer's fields (serializedMerkleProof, serializedState, assetCount, "
        "starkKey, positionOrVaultId) nor the vector file's (merkle_proof, shared_state, …)"
    )


class _FormFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.props: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id") == ESCAPE_FORM_ID and attributes.get("data-props") is not None:
            self.props.append(attributes["data-props"] or "")


def escape_data_from_page(html: str, where: str = "the explorer page") -> EscapeData:
    """The ``data-props`` JSON of the explorer's escape form (its attribute value, HTML-unescaped)."""
    finder = _FormFinder()
    finder.feed(html)
    finder.close()
    if not finder.props:
        raise FormatError(
            f"{where} has no escape form ({ESCAPE_FORM_ID}): the page is truncated, the position has no "
            "escape data, the contract is not frozen, or an escape was already started for it"
        )
    if len(finder.props) > 1:
        raise FormatError(f"{where} has {len(finder.props)} escape forms; expected one")
    return escape_data_from_json(
        _parse_json(finder.props[0], f"{where}'s data-props"), f"{where}'s data-props"
    )


def escape_data_from_text(text: str, where: str) -> EscapeData:
    """A saved file: the explorer page itself (HTML) or its data-props / the vector as JSON."""
    if len(text) > MAX_SOURCE_BYTES:
        raise FormatError(f"{where} is larger than {MAX_SOURCE_BYTES} bytes; not escape data")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return escape_data_from_json(_parse_json(stripped, where), where)
    return escape_data_from_page(text, where)


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise FormatError(f"{where} is not valid JSON (truncated?)") from None


# --- program output of updateState (UpdatePerpetualState.parseProgramOutput) -----------------------------


def new_state_from_program_output(program_output: Sequence[int]) -> tuple[int, ...]:
    """The new shared state a state update committed to, read as the contract reads it."""
    if len(program_output) < 8:
        raise FormatError("programOutput does not contain all required fields.")
    n_asset_configs = program_output[1]
    if n_asset_configs >= 2**16:
        raise FormatError("ILLEGAL_NUMBER_OF_ASSETS")
    offset = 2 + 2 * n_asset_configs
    if len(program_output) < offset + 1:
        raise FormatError("programOutput invalid size (nAssetConfig)")
    prev_size = program_output[offset]
    offset += 1 + prev_size
    if len(program_output) < offset + 1:
        raise FormatError("programOutput invalid size (prevState)")
    new_size = program_output[offset]
    start = offset + 1
    if len(program_output) < start + new_size + 2:
        raise FormatError("programOutput invalid size (newState)")
    return tuple(program_output[start : start + new_size])
