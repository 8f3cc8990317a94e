# pragma version ~=0.4.3
# @license Apache-2.0
"""
@title PerpetualEscapeVerifier stand-in (local rehearsal chain)
@notice The fact registry a frozen dYdX v3 StarkPerpetual consults in `escape`: `verifyEscape` proves
        that a position is a leaf of the position tree inside a shared state, computes what the position
        may withdraw, and registers keccak256(publicKey ‖ amount ‖ sharedStateHash ‖ positionId).
        It mirrors the deployed StarkWare_PerpetualEscapeVerifier_2021_2 as compiled (solc 0.6.12,
        unchecked arithmetic): same ABI, same event, same fact, and every check with its revert string
        in the order the compiled contract reaches them (spec escape-hatch.md §A5 and its Corrections).
@dev Written from the specification, not translated from the Solidity. Pedersen hashes come from the
     local chain's host precompile (see online/rehearsal/evm/pedersen_precompile.py) instead of 63
     lookup-table contracts; the hash is the same function.

     Where the compiled contract stops without a reason (an index past the end of an array, which solc
     0.6 turns into an `invalid` opcode that burns all gas) this stand-in reverts with a reason starting
     "stand-in:", keeping the gas. Those inputs never verify on either contract:
       * "stand-in: merkleProof is empty."
       * "stand-in: merkleProof ends inside the nAssets + 2 position pairs." (the compiled contract's
         assembly reads past the array there, then fails on some later check depending on memory)
       * "stand-in: position is empty (nAssets + 2 wrapped to 0)."
       * "stand-in: sharedState ends before the entry being read."
     Array bounds of the ABI: at most MAX_PROOF_WORDS proof words and MAX_STATE_WORDS state words;
     longer arrays are refused by the ABI decoder without a reason (the mainnet state is 160 words, a
     proof of a 64-high tree is 134 + 2·nAssets words, and the compiled contract refuses more than 402).
"""

event LogEscapeVerified:
    publicKey: uint256
    withdrawalAmount: int256
    sharedStateHash: bytes32
    positionId: uint256

PEDERSEN_PRECOMPILE: constant(address) = 0x0000000000000000000000000000000000E5ca9e
MAX_PROOF_WORDS: constant(uint256) = 1024
MAX_POSITION_ITEMS: constant(uint256) = MAX_PROOF_WORDS // 2
MAX_STATE_WORDS: constant(uint256) = 4096
# The compiled contract's own limits on the Merkle part (words, and hashes along one path).
MIN_MERKLE_WORDS: constant(uint256) = 4
MAX_MERKLE_WORDS: constant(uint256) = 402
MAX_MERKLE_HEIGHT: constant(uint256) = (MAX_MERKLE_WORDS - 2) // 2

K_MODULUS: constant(uint256) = 2**251 + 17 * 2**192 + 1
N_ASSETS_MASK: constant(uint256) = 2**16 - 1
FIELD_64_MASK: constant(uint256) = 2**64 - 1
BALANCE_BIAS: constant(uint256) = 2**63
FXP_ONE: constant(uint256) = 2**32
# Funding is rounded toward minus infinity to whole collateral units by clearing its 32 fraction bits
# (two's complement), before it is added to the balance.
FXP_FRACTION_CLEAR: constant(uint256) = max_value(uint256) - (2**32 - 1)
SIGN_BIT: constant(uint256) = 2**255
# Shared-state layout (spec §A5): root, height, order root, order height, nFunding, funding entries...
STATE_ROOT: constant(uint256) = 0
STATE_HEIGHT: constant(uint256) = 1
STATE_N_FUNDING: constant(uint256) = 4
STATE_FUNDING: constant(uint256) = 5

verifiedFact: HashMap[bytes32, bool]
anyFactRegistered: bool


@external
@pure
def identify() -> String[96]:
    return "StarkWare_PerpetualEscapeVerifier_2021_2 stand-in (dydx-airgap local rehearsal)"


@external
@view
def isValid(fact: bytes32) -> bool:
    return self.verifiedFact[fact]


@external
@view
def hasRegisteredFact() -> bool:
    return self.anyFactRegistered


@internal
@pure
def _right_node(first: uint256, second: uint256) -> uint256:
    # A pair of words is left(252) ‖ right(252) ‖ padding(8): right starts in the low 4 bits of `first`.
    return ((first & 15) << 248) | (second >> 8)


@internal
@view
def _pedersen(a: uint256, b: uint256) -> uint256:
    digest: Bytes[32] = raw_call(
        PEDERSEN_PRECOMPILE, abi_encode(a, b), max_outsize=32, is_static_call=True
    )
    assert len(digest) == 32, "stand-in: Pedersen precompile missing."
    return extract32(digest, 0, output_type=uint256)


@external
def verifyEscape(
    merkleProof: DynArray[uint256, MAX_PROOF_WORDS],
    nAssets: uint256,
    sharedState: DynArray[uint256, MAX_STATE_WORDS],
):
    proof_length: uint256 = len(merkleProof)
    state_length: uint256 = len(sharedState)

    # --- 1. The position: the right nodes of the first nAssets + 2 pairs (the leaf's hash chain). ---
    assert proof_length > 0, "stand-in: merkleProof is empty."
    assert (merkleProof[0] >> 8) == 0, "Position hash-chain must start with 0."
    position_length: uint256 = unsafe_add(nAssets, 2)
    node_idx: uint256 = merkleProof[proof_length - 1] >> 8
    # (1 << n) - 1 with EVM shift semantics: all ones once n reaches 256.
    chain_mask: uint256 = max_value(uint256)
    position_id: uint256 = 0
    if position_length < 256:
        chain_mask = unsafe_sub(convert(1, uint256) << position_length, 1)
        position_id = node_idx >> position_length
    assert (node_idx & chain_mask) == 0, "merkleProof is inconsistent with nAssets."
    assert position_length <= proof_length // 2, "stand-in: merkleProof ends inside the nAssets + 2 position pairs."
    position: DynArray[uint256, MAX_POSITION_ITEMS] = []
    for pair: uint256 in range(position_length, bound=MAX_POSITION_ITEMS):
        position.append(self._right_node(merkleProof[2 * pair], merkleProof[2 * pair + 1]))

    # --- 2. The balance, in 32.32 fixed point, with uint256 wrap-around as in solc 0.6. ---
    items: uint256 = len(position)
    assert items > 0, "stand-in: position is empty (nAssets + 2 wrapped to 0)."
    last_item: uint256 = position[items - 1]
    decoded_assets: uint256 = last_item & N_ASSETS_MASK
    biased_collateral: uint256 = last_item >> 16
    assert items == decoded_assets + 2, "Bad number of assets."
    assert biased_collateral < 2**64, "Bad balance."
    fxp_balance: uint256 = unsafe_mul(unsafe_sub(biased_collateral, BALANCE_BIAS), FXP_ONE)

    assert STATE_N_FUNDING < state_length, "stand-in: sharedState ends before the entry being read."
    funding_at: uint256 = STATE_FUNDING
    funding_end: uint256 = unsafe_add(STATE_FUNDING, unsafe_mul(2, sharedState[STATE_N_FUNDING]))
    # The funding table is followed by its timestamp, then the number of prices, then the prices.
    prices_at: uint256 = unsafe_add(funding_end, 2)
    assert unsafe_sub(prices_at, 1) < state_length, "stand-in: sharedState ends before the entry being read."
    prices_end: uint256 = unsafe_add(prices_at, unsafe_mul(2, sharedState[unsafe_sub(prices_at, 1)]))

    funding_total: uint256 = 0
    for index: uint256 in range(decoded_assets, bound=MAX_POSITION_ITEMS):
        asset: uint256 = position[index]
        asset_id: uint256 = asset >> 128
        cached_funding: uint256 = (asset >> 64) & FIELD_64_MASK
        asset_balance: uint256 = unsafe_sub(asset & FIELD_64_MASK, BALANCE_BIAS)

        # Each table is searched from the previous asset's entry on (the entry itself included), so a
        # position's assets must come in the tables' order. The entry at the start is compared before the
        # end is checked, exactly as the compiled loop does.
        for _step: uint256 in range(MAX_STATE_WORDS):
            assert funding_at < state_length, "stand-in: sharedState ends before the entry being read."
            if sharedState[funding_at] == asset_id:
                break
            funding_at = unsafe_add(funding_at, 2)
            assert funding_at < funding_end, "assetId not found."
        assert funding_at + 1 < state_length, "stand-in: sharedState ends before the entry being read."
        funding_total = unsafe_sub(
            funding_total,
            unsafe_mul(asset_balance, unsafe_sub(sharedState[funding_at + 1], cached_funding)),
        )

        for _step: uint256 in range(MAX_STATE_WORDS):
            assert prices_at < state_length, "stand-in: sharedState ends before the entry being read."
            if sharedState[prices_at] == asset_id:
                break
            prices_at = unsafe_add(prices_at, 2)
            assert prices_at < prices_end, "assetId not found."
        assert prices_at + 1 < state_length, "stand-in: sharedState ends before the entry being read."
        fxp_balance = unsafe_add(fxp_balance, unsafe_mul(asset_balance, sharedState[prices_at + 1]))

    total: uint256 = unsafe_add(fxp_balance, funding_total & FXP_FRACTION_CLEAR)

    # --- 3. Root, height and sign, in the compiled contract's order. ---
    # The last pair is root(252) ‖ 0^4 ‖ nodeIdx(248) ‖ 0^8; each earlier pair is one hash.
    hashes: uint256 = unsafe_div(unsafe_sub(proof_length, 2), 2)
    tree_height: uint256 = unsafe_sub(hashes, items)
    assert sharedState[STATE_ROOT] == merkleProof[proof_length - 2] >> 4, "merkleProof is inconsistent with the root in the sharedState."
    assert sharedState[STATE_HEIGHT] == tree_height, "merkleProof is inconsistent with the height in the sharedState."
    # int256(total) >> 32 is an arithmetic shift: positive exactly when the sign bit is clear and some
    # whole unit remains.
    assert total < SIGN_BIT and total >= FXP_ONE, "Withdrawal amount must be positive."
    amount: uint256 = total >> 32

    state_hash: bytes32 = keccak256(slice(abi_encode(sharedState), 64, 32 * state_length))
    public_key: uint256 = position[decoded_assets]
    log LogEscapeVerified(
        publicKey=public_key,
        withdrawalAmount=convert(amount, int256),
        sharedStateHash=state_hash,
        positionId=position_id,
    )
    fact: bytes32 = keccak256(
        concat(
            convert(public_key, bytes32),
            convert(amount, bytes32),
            state_hash,
            convert(position_id, bytes32),
        )
    )

    # --- 4. The Merkle path, from the leaf's hash chain up to the root. ---
    assert proof_length >= MIN_MERKLE_WORDS, "Proof too short."
    assert proof_length <= MAX_MERKLE_WORDS, "Proof too long."
    assert (proof_length & 1) == 0, "Proof length must be even."
    height: uint256 = (proof_length - 2) // 2
    assert node_idx < (convert(1, uint256) << height), "nodeIdx not in tree."
    assert (node_idx & 1) == 0, "nodeIdx must be even."
    left: uint256 = merkleProof[0] >> 4
    right: uint256 = self._right_node(merkleProof[0], merkleProof[1])
    assert left < K_MODULUS and right < K_MODULUS, "Bad starkKey or assetId."
    selectors: uint256 = node_idx
    for level: uint256 in range(height, bound=MAX_MERKLE_HEIGHT):
        digest: uint256 = self._pedersen(left, right)
        left = merkleProof[2 * level + 2] >> 4
        right = self._right_node(merkleProof[2 * level + 2], merkleProof[2 * level + 3])
        assert left < K_MODULUS and right < K_MODULUS, "Value out of range."
        selectors = selectors >> 1
        expected: uint256 = left
        if (selectors & 1) == 1:
            expected = right
        assert digest == expected, "Bad Merkle path."

    self.verifiedFact[fact] = True
    self.anyFactRegistered = True
