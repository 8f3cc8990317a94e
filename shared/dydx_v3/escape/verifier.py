"""The PerpetualEscapeVerifier's ``verifyEscape``, check for check, in Python (escape-hatch.md §A5).

The order of the checks and their reasons are the deployed (2021_2) contract's as it runs compiled, with
the spec's corrections: the position is extracted and its balance computed before any Merkle check, so a
truncated proof fails on the height and an odd node index on nAssets; range and path checks alternate level
by level. Arithmetic is Solidity 0.6's: unsigned 256-bit words that wrap, an ``int256`` reinterpretation at
the end and an arithmetic shift. Where the contract would revert without a reason (an array read past its
end) this module refuses with a reason of its own that says so.

A proof that passes here is what the contract would accept with the same amount and fact; nothing here
trusts the proof's source, so the cold side, the relay and ``dydx-audit`` call the same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from dydx_airgap.shared.stark.pedersen import pedersen_hash

_WORD = 2**256
_WORD_MASK = _WORD - 1
_NODE_MASK = 2**252 - 1
_PRIME_MINUS_ONE = FIELD_PRIME - 1
_BALANCE_BIAS = 2**63
_FIELD64 = 2**64 - 1
_FXP_BITS = 32
N_ASSETS_BITS = 16
#: verifyMerkle's bounds on the proof's length in words.
MIN_PROOF_WORDS = 4
MAX_PROOF_WORDS = 402
#: Shared-state offsets (ProgramOutputOffsets.STATE_OFFSET_*).
STATE_OFFSET_VAULTS_ROOT = 0
STATE_OFFSET_VAULTS_HEIGHT = 1
STATE_OFFSET_N_FUNDING = 4
STATE_OFFSET_FUNDING = 5
#: Our own reason where the contract reads past an array and reverts with none.
OUT_OF_BOUNDS = "reverts without a reason: the contract reads past the end of"


class EscapeProofError(VerificationError):
    """The contract would refuse this proof; ``reason`` is its revert string (or ours, marked as such)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the escape proof is invalid: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class PositionAsset:
    """One synthetic asset of the position, with the state's funding index and price for it."""

    asset_id: int
    balance: int  # signed, in the asset's quanta
    cached_funding: int  # biased by 2^63, as the position stores it
    global_funding: int  # biased by 2^63, as the shared state stores it
    price: int  # 32.32 fixed point, collateral quanta per synthetic quantum

    @property
    def funding_delta(self) -> int:
        """Funding owed by the position for this asset, in 32.32 fixed point (positive: it pays)."""
        return self.balance * (self.global_funding - self.cached_funding)

    @property
    def value_fxp(self) -> int:
        """The asset's value in collateral quanta, 32.32 fixed point."""
        return self.balance * self.price


@dataclass(frozen=True)
class VerifiedEscape:
    """What an accepted proof establishes: whose position, how much may leave, and the fact registered."""

    stark_key: int
    position_id: int
    n_assets: int
    collateral_balance: int  # signed, collateral quanta (USDC base units on dYdX)
    assets: tuple[PositionAsset, ...]
    amount: int  # quantized withdrawal amount, > 0
    root: int
    tree_height: int
    shared_state_hash: bytes
    fact: bytes
    leaf: int


def _signed(word: int) -> int:
    return word - _WORD if word >> 255 else word


class _Array:
    """A Solidity ``uint256[]`` read the way the contract reads it, with our reason for reads past its end."""

    def __init__(self, words: Sequence[int], name: str) -> None:
        self._words = words
        self.name = name

    def __len__(self) -> int:
        return len(self._words)

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < len(self._words):
            raise EscapeProofError(f"{OUT_OF_BOUNDS} {self.name} (index {index}, length {len(self._words)})")
        return self._words[index]


def check_words(words: Sequence[int], name: str) -> None:
    """Each element is an ABI ``uint256``; anything else cannot be sent to the contract at all."""
    for index, word in enumerate(words):
        if not isinstance(word, int) or isinstance(word, bool) or not 0 <= word < _WORD:
            raise InputError(f"{name}[{index}] is not a 256-bit unsigned word")


def left_node(proof: _Array, pair: int) -> int:
    return proof[2 * pair] >> 4


def right_node(proof: _Array, pair: int) -> int:
    # mload at byte 31 of the pair: the first word's last byte and the second word's first 31 bytes.
    return ((proof[2 * pair] & 0xFF) << 248 | proof[2 * pair + 1] >> 8) & _NODE_MASK


def verify_escape(merkle_proof: Sequence[int], n_assets: int, shared_state: Sequence[int]) -> VerifiedEscape:
    """Run ``verifyEscape(merkleProof, nAssets, sharedState)``; ``EscapeProofError`` where it reverts."""
    check_words(merkle_proof, "merkleProof")
    check_words(shared_state, "sharedState")
    check_words([n_assets], "nAssets")
    proof = _Array(merkle_proof, "merkleProof")
    state = _Array(shared_state, "sharedState")

    position_id, position = _extract_position(proof, n_assets)
    withdrawal_amount = _fxp_balance(position, state) >> _FXP_BITS

    n_hashes = ((len(proof) - 2) % _WORD) // 2
    tree_height = (n_hashes - len(position)) % _WORD
    if state[STATE_OFFSET_VAULTS_ROOT] != proof[len(proof) - 2] >> 4:
        raise EscapeProofError("merkleProof is inconsistent with the root in the sharedState.")
    if state[STATE_OFFSET_VAULTS_HEIGHT] != tree_height:
        raise EscapeProofError("merkleProof is inconsistent with the height in the sharedState.")
    if withdrawal_amount <= 0:
        raise EscapeProofError("Withdrawal amount must be positive.")
    state_hash = keccak256(b"".join(word.to_bytes(32, "big") for word in shared_state))
    stark_key = position[n_assets]
    fact = escape_fact(stark_key, withdrawal_amount, state_hash, position_id)
    # The position's hash chain comes first: the hash of its last item is the tree's leaf.
    hashes = _verify_merkle(proof)
    # (A state claiming a wrapped-around height lets the chain end at the root itself: no leaf below it.)
    leaf = hashes[min(len(position), len(hashes)) - 1]

    assets = _position_assets(position, n_assets, state)
    return VerifiedEscape(
        stark_key=stark_key,
        position_id=position_id,
        n_assets=n_assets,
        collateral_balance=(position[-1] >> N_ASSETS_BITS) - _BALANCE_BIAS,
        assets=assets,
        amount=withdrawal_amount,
        root=state[STATE_OFFSET_VAULTS_ROOT],
        tree_height=tree_height,
        shared_state_hash=state_hash,
        fact=fact,
        leaf=leaf,
    )


def escape_fact(stark_key: int, amount: int, shared_state_hash: bytes, position_id: int) -> bytes:
    """keccak256(publicKey ‖ int256 amount ‖ sharedStateHash ‖ positionId): the verifier's fact, which is
    also the claim ``escape`` recomputes with ``abi.encode`` (identical bytes for these four words)."""
    return keccak256(
        stark_key.to_bytes(32, "big")
        + (amount % _WORD).to_bytes(32, "big")
        + shared_state_hash
        + position_id.to_bytes(32, "big")
    )


def _extract_position(proof: _Array, n_assets: int) -> tuple[int, list[int]]:
    if proof[0] >> 8 != 0:
        raise EscapeProofError("Position hash-chain must start with 0.")
    position_length = (n_assets + 2) % _WORD
    node_idx = proof[len(proof) - 1] >> 8
    # Solidity: (1 << n) is 0 for n >= 256, and 0 - 1 wraps to all ones.
    mask = ((1 << position_length) - 1) % _WORD if position_length < 256 else _WORD_MASK
    if node_idx & mask:
        raise EscapeProofError("merkleProof is inconsistent with nAssets.")
    position_id = node_idx >> position_length if position_length < 256 else 0
    if 2 * position_length > len(proof):
        raise EscapeProofError(
            f"{OUT_OF_BOUNDS} merkleProof (its {len(proof) // 2} pairs cannot hold nAssets + 2 = "
            f"{position_length} position items)"
        )
    return position_id, [right_node(proof, pair) for pair in range(position_length)]


def _find_asset(asset_id: int, state: _Array, start: int, end: int) -> int:
    index = start
    while state[index] != asset_id:
        index = (index + 2) % _WORD
        if not index < end:
            raise EscapeProofError("assetId not found.")
    return index


def _fxp_balance(position: list[int], state: _Array) -> int:
    last = position[-1]
    n_assets = last & (2**N_ASSETS_BITS - 1)
    biased_balance = last >> N_ASSETS_BITS
    if len(position) != n_assets + 2:
        raise EscapeProofError("Bad number of assets.")
    if biased_balance >= 2**64:
        raise EscapeProofError("Bad balance.")
    fxp = ((biased_balance - _BALANCE_BIAS) << _FXP_BITS) % _WORD

    funding_offset = STATE_OFFSET_FUNDING
    funding_end = (funding_offset + 2 * state[funding_offset - 1]) % _WORD
    prices_offset = (funding_end + 2) % _WORD
    prices_end = (prices_offset + 2 * state[prices_offset - 1]) % _WORD
    funding_total = 0
    for item in position[:n_assets]:
        asset_id = item >> 128
        cached_funding = (item >> 64) & _FIELD64
        balance = ((item & _FIELD64) - _BALANCE_BIAS) % _WORD
        funding_offset = _find_asset(asset_id, state, funding_offset, funding_end)
        delta = (state[funding_offset + 1] - cached_funding) % _WORD
        funding_total = (funding_total - balance * delta) % _WORD
        prices_offset = _find_asset(asset_id, state, prices_offset, prices_end)
        fxp = (fxp + balance * state[prices_offset + 1]) % _WORD
    truncated = funding_total & (_WORD_MASK ^ (2**_FXP_BITS - 1))
    return _signed((fxp + truncated) % _WORD)


def _verify_merkle(proof: _Array) -> list[int]:
    """verifyMerkle: the path from the leaf's hash chain to the root; returns the hash of every level."""
    length = len(proof)
    if length < MIN_PROOF_WORDS:
        raise EscapeProofError("Proof too short.")
    if length > MAX_PROOF_WORDS:
        raise EscapeProofError("Proof too long.")
    if length & 1:
        raise EscapeProofError("Proof length must be even.")
    height = (length - 2) // 2
    node_idx = proof[length - 1] >> 8
    if node_idx >= 2**height:
        raise EscapeProofError("nodeIdx not in tree.")
    if node_idx & 1:
        raise EscapeProofError("nodeIdx must be even.")
    if left_node(proof, 0) > _PRIME_MINUS_ONE or right_node(proof, 0) > _PRIME_MINUS_ONE:
        raise EscapeProofError("Bad starkKey or assetId.")
    selectors = node_idx
    hashes: list[int] = []
    for pair in range(height):
        try:
            digest = pedersen_hash(left_node(proof, pair), right_node(proof, pair))
        except InputError:
            raise EscapeProofError(
                "a proof node cannot be hashed (a degenerate Pedersen input; the contract's 'aZ is zero.')"
            ) from None
        hashes.append(digest)
        expected, other = left_node(proof, pair + 1), right_node(proof, pair + 1)
        if expected > _PRIME_MINUS_ONE or other > _PRIME_MINUS_ONE:
            raise EscapeProofError("Value out of range.")
        selectors >>= 1
        if selectors & 1:
            expected = other
        if digest != expected:
            raise EscapeProofError("Bad Merkle path.")
    return hashes


def _position_assets(position: list[int], n_assets: int, state: _Array) -> tuple[PositionAsset, ...]:
    """The position's assets decoded for people (the checks above already passed, so lookups succeed)."""
    funding_end = STATE_OFFSET_FUNDING + 2 * state[STATE_OFFSET_N_FUNDING]
    prices_offset = funding_end + 2
    prices_end = prices_offset + 2 * state[prices_offset - 1]
    funding = {state[i]: state[i + 1] for i in range(STATE_OFFSET_FUNDING, funding_end, 2)}
    prices = {state[i]: state[i + 1] for i in range(prices_offset, prices_end, 2)}
    assets = []
    for item in position[:n_assets]:
        asset_id = item >> 128
        assets.append(
            PositionAsset(
                asset_id=asset_id,
                balance=(item & _FIELD64) - _BALANCE_BIAS,
                cached_funding=(item >> 64) & _FIELD64,
                global_funding=funding[asset_id],
                price=prices[asset_id],
            )
        )
    return tuple(assets)
