"""The escape hatch's contract calls (escape-hatch.md §A2, §A4): encoded, and decoded strictly.

Strict decoding is what lets the cold side rebuild ``verifyEscape``'s 9.6 kB of calldata from a proof it
verified and compare it byte for byte with the relay's request: only the canonical ABI encoding (offsets
0x60 and right after the proof, no trailing bytes) is accepted, so one proof has exactly one calldata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.ethereum.abi import address_from_word, address_word, uint_word, word_int
from dydx_airgap.shared.ethereum.keccak import keccak256


def selector(signature: str) -> bytes:
    return keccak256(signature.encode("ascii"))[:4]


VERIFY_ESCAPE = selector("verifyEscape(uint256[],uint256,uint256[])")
IS_VALID = selector("isValid(bytes32)")
ESCAPE = selector("escape(uint256,uint256,uint256)")
WITHDRAW = selector("withdraw(uint256,uint256)")
WITHDRAW_TO = selector("withdrawTo(uint256,uint256,address)")
DEPOSIT_CANCEL = selector("depositCancel(uint256,uint256,uint256)")
DEPOSIT_RECLAIM = selector("depositReclaim(uint256,uint256,uint256)")
IS_FROZEN = selector("isFrozen()")
GET_WITHDRAWAL_BALANCE = selector("getWithdrawalBalance(uint256,uint256)")
GET_QUANTIZED_DEPOSIT_BALANCE = selector("getQuantizedDepositBalance(uint256,uint256,uint256)")
UPDATE_STATE = selector("updateState(uint256[],uint256[])")

EVENT_ESCAPE_VERIFIED = keccak256(b"LogEscapeVerified(uint256,int256,bytes32,uint256)")
EVENT_WITHDRAWAL_ALLOWED = keccak256(b"LogWithdrawalAllowed(uint256,uint256,uint256,uint256)")
EVENT_WITHDRAWAL_PERFORMED = keccak256(b"LogWithdrawalPerformed(uint256,uint256,uint256,uint256,address)")
EVENT_UPDATE_STATE = keccak256(b"LogUpdateState(uint256,uint256)")
EVENT_USER_REGISTERED = keccak256(b"LogUserRegistered(address,uint256,address)")
EVENT_DEPOSIT = keccak256(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)")


@dataclass(frozen=True)
class VerifyEscapeCall:
    merkle_proof: tuple[int, ...]
    n_assets: int
    shared_state: tuple[int, ...]

    def encode(self) -> bytes:
        proof_len, state_len = len(self.merkle_proof), len(self.shared_state)
        head = uint_word(0x60) + uint_word(self.n_assets) + uint_word(0x60 + 32 * (1 + proof_len))
        body = uint_word(proof_len) + b"".join(uint_word(w) for w in self.merkle_proof)
        body += uint_word(state_len) + b"".join(uint_word(w) for w in self.shared_state)
        return VERIFY_ESCAPE + head + body


@dataclass(frozen=True)
class EscapeCall:
    stark_key: int
    position_id: int
    quantized_amount: int

    def encode(self) -> bytes:
        return (
            ESCAPE
            + uint_word(self.stark_key)
            + uint_word(self.position_id)
            + uint_word(self.quantized_amount)
        )


@dataclass(frozen=True)
class WithdrawCall:
    stark_key: int
    asset_type: int
    recipient: str | None = None  # withdrawTo when set

    def encode(self) -> bytes:
        words = uint_word(self.stark_key) + uint_word(self.asset_type)
        if self.recipient is None:
            return WITHDRAW + words
        return WITHDRAW_TO + words + address_word(self.recipient)


@dataclass(frozen=True)
class DepositCancelCall:
    stark_key: int
    asset_id: int
    vault_id: int
    reclaim: bool = False  # depositReclaim when set

    def encode(self) -> bytes:
        head = DEPOSIT_RECLAIM if self.reclaim else DEPOSIT_CANCEL
        return head + uint_word(self.stark_key) + uint_word(self.asset_id) + uint_word(self.vault_id)


EscapeHatchCall = VerifyEscapeCall | EscapeCall | WithdrawCall | DepositCancelCall


def _words(data: bytes, what: str) -> list[int]:
    if len(data) % 32:
        raise FormatError(f"{what} calldata is not a whole number of 32-byte words")
    return [word_int(data[i : i + 32]) for i in range(0, len(data), 32)]


def decode_escape_hatch_call(data: bytes) -> EscapeHatchCall:
    """One of the escape hatch's calls, canonically encoded, or a FormatError saying what it is not."""
    head, args = data[:4], data[4:]
    if head == VERIFY_ESCAPE:
        return _decode_verify_escape(args)
    fixed = {ESCAPE: 3, WITHDRAW: 2, WITHDRAW_TO: 3, DEPOSIT_CANCEL: 3, DEPOSIT_RECLAIM: 3}
    if head not in fixed:
        raise FormatError(f"calldata selector 0x{head.hex()} is not an escape-hatch call")
    words = _words(args, "the call's")
    if len(words) != fixed[head]:
        raise FormatError(f"the call takes {fixed[head]} words, this calldata has {len(words)}")
    if head == ESCAPE:
        return EscapeCall(*words)
    if head == WITHDRAW:
        return WithdrawCall(words[0], words[1])
    if head == WITHDRAW_TO:
        return WithdrawCall(words[0], words[1], address_from_word(args[64:96], "withdrawTo recipient"))
    return DepositCancelCall(words[0], words[1], words[2], reclaim=head == DEPOSIT_RECLAIM)


def _decode_verify_escape(args: bytes) -> VerifyEscapeCall:
    words = _words(args, "verifyEscape")
    if len(words) < 5 or words[0] != 0x60:
        raise FormatError("verifyEscape calldata does not start with the canonical offset 0x60")
    proof_len = words[3]
    if proof_len > len(words) or words[2] != 0x60 + 32 * (1 + proof_len):
        raise FormatError("verifyEscape calldata's sharedState offset is not right after the proof")
    state_at = 4 + proof_len
    if state_at >= len(words) or len(words) != state_at + 1 + words[state_at]:
        raise FormatError("verifyEscape calldata's lengths do not match its size")
    return VerifyEscapeCall(
        merkle_proof=tuple(words[4:state_at]), n_assets=words[1], shared_state=tuple(words[state_at + 1 :])
    )


def verify_escape_calldata(merkle_proof: Sequence[int], n_assets: int, shared_state: Sequence[int]) -> bytes:
    return VerifyEscapeCall(tuple(merkle_proof), n_assets, tuple(shared_state)).encode()


def decode_update_state(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``updateState(uint256[] programOutput, uint256[] applicationData)`` calldata → the two arrays."""
    if data[:4] != UPDATE_STATE:
        raise FormatError(f"selector 0x{data[:4].hex()} is not updateState(uint256[],uint256[])")
    words = _words(data[4:], "updateState")
    if len(words) < 4:
        raise FormatError("updateState calldata is too short")

    def array(offset: int) -> tuple[int, ...]:
        if offset % 32:
            raise FormatError("updateState calldata has an unaligned array offset")
        at = offset // 32
        if at >= len(words) or at + 1 + words[at] > len(words):
            raise FormatError("updateState calldata has an array that runs past its end")
        return tuple(words[at + 1 : at + 1 + words[at]])

    return array(words[0]), array(words[1])
