"""ABI calldata of the three L1 calls of dYdX v3 onboarding, USDC amounts, and the collateral asset id.

Spec dydx-v3.md §7: ``registerUser(address,uint256,bytes)`` on StarkPerpetual, ``approve(address,uint256)``
on USDC, then ``deposit(uint256,uint256,uint256,uint256)`` on StarkPerpetual. The cold signer decodes the
calldata it is asked to sign and shows the arguments, so decoding accepts exactly the canonical ABI
encoding of these three functions — an unknown selector, a wrong length, dirty padding or an unusual
offset for the ``bytes`` argument is refused, because it would mean the bytes do not say what is shown.

Amounts are exact: dydx3 multiplies a float by 1e6 and truncates ('1.005' became 1004999 base units);
here a decimal string is split into digits and never passes through binary floating point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from dydx_airgap.shared.dydx_v3.networks import USDC_DECIMALS
from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.ethereum.abi import (
    UINT256_MAX,
    WORD,
    address_from_word,
    address_word,
    split_words,
    uint_word,
    word_int,
)
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256

# Selectors (first 4 bytes of keccak256 of the signature); tests recompute each from its text.
REGISTER_USER_SELECTOR = bytes.fromhex("dd2414d4")  # registerUser(address,uint256,bytes)
APPROVE_SELECTOR = bytes.fromhex("095ea7b3")  # approve(address,uint256)
DEPOSIT_SELECTOR = bytes.fromhex("2505c3d9")  # deposit(uint256,uint256,uint256,uint256)
GET_ETH_KEY_SELECTOR = bytes.fromhex("1dbd1da7")  # getEthKey(uint256)
BALANCE_OF_SELECTOR = bytes.fromhex("70a08231")  # balanceOf(address)
ALLOWANCE_SELECTOR = bytes.fromhex("dd62ed3e")  # allowance(address,address)
# StarkEx asset info of an ERC-20 starts with the selector of "ERC20Token(address)".
ERC20_ASSET_SELECTOR = bytes.fromhex("f47261b0")

STARK_FIELD_PRIME = 2**251 + 17 * 2**192 + 1
# Perpetual position ids (the StarkEx vault ids used by deposit) are below 2^64.
POSITION_ID_UPPER_BOUND = 2**64
ASSET_ID_BITS = 250
ASSET_ID_MODULUS: int = 2**ASSET_ID_BITS
# dydx3's set_token_max_allowance approves this "unlimited" amount.
UNLIMITED_ALLOWANCE = UINT256_MAX
REGISTRATION_SIGNATURE_LENGTH = 65

_USDC_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)
_MAX_AMOUNT_TEXT = 100


@dataclass(frozen=True)
class RegisterUserCall:
    """``registerUser(ethKey, starkKey, signature)``; the signature is the operator's, from the API."""

    eth_key: str
    stark_key: int
    signature: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "eth_key", to_checksum_address(parse_address(self.eth_key)))
        _check_stark_key(self.stark_key)
        if not isinstance(self.signature, bytes) or len(self.signature) != REGISTRATION_SIGNATURE_LENGTH:
            raise FormatError("the registration signature must be 65 bytes (r ‖ s ‖ v)")
        if self.signature[64] not in (27, 28):
            # The contract's ecrecover only knows v = 27/28; anything else recovers to nobody and reverts.
            raise FormatError("the registration signature's v byte must be 27 or 28 (0x1b/0x1c)")

    def encode(self) -> bytes:
        padded = self.signature + bytes(-len(self.signature) % WORD)
        return (
            REGISTER_USER_SELECTOR
            + address_word(self.eth_key)
            + uint_word(self.stark_key)
            + uint_word(3 * WORD)  # the bytes argument's tail starts right after the three head words
            + uint_word(len(self.signature))
            + padded
        )


@dataclass(frozen=True)
class ApproveCall:
    """ERC-20 ``approve(spender, amount)``; amount in token base units."""

    spender: str
    amount: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "spender", to_checksum_address(parse_address(self.spender)))
        _check_uint("amount", self.amount, UINT256_MAX)

    def encode(self) -> bytes:
        return APPROVE_SELECTOR + address_word(self.spender) + uint_word(self.amount)


@dataclass(frozen=True)
class DepositCall:
    """``deposit(starkKey, assetType, vaultId, quantizedAmount)``; vaultId is the dYdX positionId."""

    stark_key: int
    asset_type: int
    vault_id: int
    quantized_amount: int

    def __post_init__(self) -> None:
        _check_stark_key(self.stark_key)
        _check_uint("asset type", self.asset_type, ASSET_ID_MODULUS - 1)
        _check_uint("position id (vault id)", self.vault_id, POSITION_ID_UPPER_BOUND - 1)
        _check_uint("quantized amount", self.quantized_amount, UINT256_MAX)

    def encode(self) -> bytes:
        return (
            DEPOSIT_SELECTOR
            + uint_word(self.stark_key)
            + uint_word(self.asset_type)
            + uint_word(self.vault_id)
            + uint_word(self.quantized_amount)
        )


OnboardingCall = RegisterUserCall | ApproveCall | DepositCall


def decode_calldata(data: bytes) -> OnboardingCall:
    """Decode calldata of registerUser, approve or deposit; anything else is a ``FormatError``."""
    if not isinstance(data, bytes) or len(data) < 4:
        raise FormatError("calldata must be at least a 4-byte selector")
    selector, args = data[:4], data[4:]
    if selector == REGISTER_USER_SELECTOR:
        return _decode_register_user(args)
    if selector == APPROVE_SELECTOR:
        words = split_words(args, 2, "approve")
        return ApproveCall(spender=address_from_word(words[0], "spender"), amount=word_int(words[1]))
    if selector == DEPOSIT_SELECTOR:
        words = split_words(args, 4, "deposit")
        return DepositCall(
            stark_key=word_int(words[0]),
            asset_type=word_int(words[1]),
            vault_id=word_int(words[2]),
            quantized_amount=word_int(words[3]),
        )
    raise FormatError(
        f"unknown function selector 0x{selector.hex()}: only registerUser, approve and deposit are signed"
    )


def _decode_register_user(args: bytes) -> RegisterUserCall:
    padded_length = REGISTRATION_SIGNATURE_LENGTH + (-REGISTRATION_SIGNATURE_LENGTH % WORD)
    expected = 4 * WORD + padded_length
    if len(args) != expected:
        raise FormatError(f"registerUser arguments must be exactly {expected} bytes, got {len(args)}")
    words = [args[i : i + WORD] for i in range(0, 4 * WORD, WORD)]
    if word_int(words[2]) != 3 * WORD:
        raise FormatError("registerUser's signature offset must be 0x60 (canonical ABI encoding)")
    if word_int(words[3]) != REGISTRATION_SIGNATURE_LENGTH:
        raise FormatError("registerUser's signature must be 65 bytes long")
    tail = args[4 * WORD :]
    signature, padding = tail[:REGISTRATION_SIGNATURE_LENGTH], tail[REGISTRATION_SIGNATURE_LENGTH:]
    if any(padding):
        raise FormatError("registerUser's signature padding is not zero (non-canonical ABI encoding)")
    return RegisterUserCall(
        eth_key=address_from_word(words[0], "ethKey"), stark_key=word_int(words[1]), signature=signature
    )


# --- calls the relay makes with eth_call, and their results --------------------------------------------


def encode_get_eth_key(stark_key: int) -> bytes:
    """``getEthKey(starkKey)``: which address registered this STARK key (reverts if none)."""
    _check_stark_key(stark_key)
    return GET_ETH_KEY_SELECTOR + uint_word(stark_key)


def encode_balance_of(owner: str) -> bytes:
    return BALANCE_OF_SELECTOR + address_word(owner)


def encode_allowance(owner: str, spender: str) -> bytes:
    return ALLOWANCE_SELECTOR + address_word(owner) + address_word(spender)


# --- USDC amounts -------------------------------------------------------------------------------------


def usdc_to_base_units(amount: str | Decimal) -> int:
    """Exact USDC → base units (6 decimals): '1250.50' → 1250500000, '1.005' → 1005000, '8.2' → 8200000.

    A string must be plain decimal digits with an optional point and 1 to 6 decimals; exponents, signs,
    separators, more than 6 decimals and non-ASCII digits are refused rather than rounded.
    """
    if isinstance(amount, Decimal):
        if not amount.is_finite() or amount.is_signed():
            raise InputError(f"USDC amount {amount} must be a finite, non-negative number")
        if amount.adjusted() >= _MAX_AMOUNT_TEXT:  # refuse before scaling builds a huge integer
            raise InputError("USDC amount does not fit in a uint256")
        exponent = amount.as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -USDC_DECIMALS:
            raise InputError(f"USDC amount {amount} has more than {USDC_DECIMALS} decimals")
        units = int(amount.scaleb(USDC_DECIMALS))
    elif isinstance(amount, str):
        match = _USDC_AMOUNT.fullmatch(amount) if len(amount) <= _MAX_AMOUNT_TEXT else None
        if match is None:
            raise InputError(
                f"USDC amount {amount[:_MAX_AMOUNT_TEXT]!r} is not a plain decimal number like 1250.50 "
                "(no sign, exponent, separators or leading zeros)"
            )
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > USDC_DECIMALS:
            raise InputError(
                f"USDC amount {amount!r} has more than {USDC_DECIMALS} decimals: round it yourself"
            )
        units = int(whole) * 10**USDC_DECIMALS + int(fraction.ljust(USDC_DECIMALS, "0"))
    else:
        raise InputError("a USDC amount must be given as a decimal string")
    if units > UINT256_MAX:
        raise InputError("USDC amount does not fit in a uint256")
    return units


def format_usdc(base_units: int) -> str:
    """Base units → the shortest exact decimal string: 1250500000 → '1250.5', 7000000 → '7'."""
    _check_uint("USDC amount", base_units, UINT256_MAX)
    whole, fraction = divmod(base_units, 10**USDC_DECIMALS)
    digits = f"{fraction:0{USDC_DECIMALS}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


# --- asset ids ----------------------------------------------------------------------------------------


def collateral_asset_id(token_address: str, quantum: int = 1) -> int:
    """StarkEx asset type of an ERC-20: keccak(0xf47261b0 ‖ uint256(token) ‖ uint256(quantum)) mod 2^250."""
    _check_uint("quantum", quantum, UINT256_MAX)
    if quantum == 0:
        raise InputError("an asset quantum is at least 1")
    asset_info = ERC20_ASSET_SELECTOR + address_word(token_address) + uint_word(quantum)
    return int.from_bytes(keccak256(asset_info), "big") % ASSET_ID_MODULUS


def format_asset_id(asset_id: int) -> str:
    """``0x`` + 64 hex digits, the form dydx3's constants use."""
    _check_uint("asset id", asset_id, ASSET_ID_MODULUS - 1)
    return f"0x{asset_id:064x}"


def _check_stark_key(stark_key: int) -> None:
    _check_uint("STARK key", stark_key, UINT256_MAX)
    if not 0 < stark_key < STARK_FIELD_PRIME:
        raise FormatError("a STARK public key must be a field element between 1 and p - 1")


def _check_uint(what: str, value: object, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{what} must be an integer")
    if not 0 <= value <= maximum:
        raise FormatError(f"{what} is out of range (0 to {maximum:#x})")
