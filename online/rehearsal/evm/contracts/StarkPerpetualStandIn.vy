# pragma version ~=0.4.3
# @license Apache-2.0
"""
@title StarkPerpetual stand-in (local rehearsal chain)
@notice The two L1 entry points dYdX v3 onboarding uses, with the checks of StarkEx's (pre-v4) Users and
        Deposits components: registerUser authorised by the operator's ECDSA signature, and deposit of the
        collateral token into a position's pending-deposit balance. No proofs, no withdrawals, no
        freezing: nothing here is an exchange, it only lets the relay rehearse the real transactions.
@dev Revert reasons are StarkEx's own strings so a relay that decodes them works against both.
"""

from ethereum.ercs import IERC20

event LogUserRegistered:
    ethKey: address
    starkKey: uint256
    sender: address

# Same field order and types as StarkEx's LogDeposit (nothing indexed), so an indexer decodes both alike.
event LogDeposit:
    depositorEthKey: address
    starkKey: uint256
    vaultId: uint256
    assetType: uint256
    nonQuantizedAmount: uint256
    quantizedAmount: uint256

# The STARK curve y^2 = x^3 + x + beta over the field of prime K_MODULUS.
K_MODULUS: constant(uint256) = 2**251 + 17 * 2**192 + 1
K_BETA: constant(uint256) = 3141592653589793238462643383279502884197169399375105820974944592307816406665
# Perpetual position ids (= StarkEx vault ids) are below 2^64.
POSITION_ID_UPPER_BOUND: constant(uint256) = 2**64
# Asset ids are keccak hashes masked to 250 bits so that they fit in a STARK field element.
ASSET_ID_MASK: constant(uint256) = 2**250 - 1
COLLATERAL_QUANTUM: constant(uint256) = 1
MODEXP_PRECOMPILE: constant(address) = 0x0000000000000000000000000000000000000005

userAdmin: public(address)
collateralToken: public(address)
# The collateral asset id (asset type, quantum 1), derived on chain from the token address.
systemAssetType: public(uint256)

ethKeys: HashMap[uint256, address]
pendingDeposits: HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]


@deploy
def __init__(user_admin: address, collateral_token: address):
    assert user_admin != empty(address), "INVALID_USER_ADMIN"
    assert collateral_token.is_contract, "INVALID_COLLATERAL_TOKEN"
    self.userAdmin = user_admin
    self.collateralToken = collateral_token
    # StarkEx asset info for an ERC-20: selector of "ERC20Token(address)" ‖ uint256(token) ‖ uint256(quantum).
    asset_info: Bytes[68] = concat(
        method_id("ERC20Token(address)"), abi_encode(collateral_token, COLLATERAL_QUANTUM)
    )
    self.systemAssetType = convert(keccak256(asset_info), uint256) & ASSET_ID_MASK


@internal
@view
def _field_pow(base: uint256, exponent: uint256) -> uint256:
    result: Bytes[32] = raw_call(
        MODEXP_PRECOMPILE,
        abi_encode(convert(32, uint256), convert(32, uint256), convert(32, uint256), base, exponent, K_MODULUS),
        max_outsize=32,
        is_static_call=True,
    )
    return extract32(result, 0, output_type=uint256)


@internal
@view
def _is_on_curve(stark_key: uint256) -> bool:
    # x is a valid key iff x^3 + x + beta is a non-zero quadratic residue (Euler's criterion).
    x_cubed: uint256 = uint256_mulmod(uint256_mulmod(stark_key, stark_key, K_MODULUS), stark_key, K_MODULUS)
    rhs: uint256 = uint256_addmod(uint256_addmod(x_cubed, stark_key, K_MODULUS), K_BETA, K_MODULUS)
    return self._field_pow(rhs, (K_MODULUS - 1) // 2) == 1


@external
@view
def isUserAdmin(tested_admin: address) -> bool:
    return tested_admin == self.userAdmin


@external
@view
def getEthKey(starkKey: uint256) -> address:
    eth_key: address = self.ethKeys[starkKey]
    assert eth_key != empty(address), "USER_UNREGISTERED"
    return eth_key


@external
@view
def getQuantizedDepositBalance(starkKey: uint256, assetId: uint256, vaultId: uint256) -> uint256:
    return self.pendingDeposits[starkKey][assetId][vaultId]


@external
def registerUser(ethKey: address, starkKey: uint256, signature: Bytes[1024]):
    assert starkKey != 0, "INVALID_STARK_KEY"
    assert starkKey < K_MODULUS, "INVALID_STARK_KEY"
    assert ethKey != empty(address), "INVALID_ETH_ADDRESS"
    assert self.ethKeys[starkKey] == empty(address), "STARK_KEY_UNAVAILABLE"
    assert self._is_on_curve(starkKey), "INVALID_STARK_KEY"
    assert len(signature) == 65, "INVALID_SIGNATURE"

    # abi.encodePacked("UserRegistration:", ethKey, starkKey); no EIP-191 prefix, v in the last byte.
    signed_data: bytes32 = keccak256(
        concat(b"UserRegistration:", convert(ethKey, bytes20), convert(starkKey, bytes32))
    )
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    signer: address = ecrecover(signed_data, v, r, s)
    # ecrecover yields the zero address for a malformed signature; the admin is never zero.
    assert signer == self.userAdmin, "INVALID_SIGNATURE"

    self.ethKeys[starkKey] = ethKey
    log LogUserRegistered(ethKey=ethKey, starkKey=starkKey, sender=msg.sender)


@external
@nonreentrant
def deposit(starkKey: uint256, assetType: uint256, vaultId: uint256, quantizedAmount: uint256):
    # Anyone may fund a registered key's position; StarkEx does not require msg.sender to own the key.
    assert vaultId < POSITION_ID_UPPER_BOUND, "OUT_OF_RANGE_POSITION_ID"
    assert self.ethKeys[starkKey] != empty(address), "INVALID_STARK_KEY"
    assert assetType == self.systemAssetType, "INVALID_ASSET_TYPE"

    pending: uint256 = self.pendingDeposits[starkKey][assetType][vaultId]
    assert quantizedAmount <= max_value(uint256) - pending, "DEPOSIT_OVERFLOW"
    self.pendingDeposits[starkKey][assetType][vaultId] = pending + quantizedAmount

    amount: uint256 = quantizedAmount * COLLATERAL_QUANTUM
    token: IERC20 = IERC20(self.collateralToken)
    balance_before: uint256 = staticcall token.balanceOf(self)
    assert extcall token.transferFrom(msg.sender, self, amount), "TOKEN_TRANSFER_FAILED"
    assert staticcall token.balanceOf(self) == balance_before + amount, "INCORRECT_AMOUNT_TRANSFERRED"

    log LogDeposit(
        depositorEthKey=msg.sender,
        starkKey=starkKey,
        vaultId=vaultId,
        assetType=assetType,
        nonQuantizedAmount=amount,
        quantizedAmount=quantizedAmount,
    )
