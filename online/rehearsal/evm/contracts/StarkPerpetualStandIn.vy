# pragma version ~=0.4.3
# @license Apache-2.0
"""
@title StarkPerpetual stand-in (local rehearsal chain)
@notice The L1 entry points of dYdX v3's StarkPerpetual (VERSION 1.0.0 as deployed) that a user of the
        escape hatch meets, with the checks and revert strings of StarkEx's (pre-v4) components:
        onboarding (registerUser authorised by a user admin's ECDSA signature, deposit into a position's
        pending-deposit balance), deposit cancel/reclaim, state updates, forced withdrawal requests and
        freezing, and, once frozen, escape and withdraw. Constants are the deployed contract's
        (FREEZE_GRACE_PERIOD 14 days, DEPOSIT_CANCEL_DELAY 7 days), not the public tag's.
@dev Revert reasons are StarkEx's own strings so a relay that decodes them works against both.
     What is deliberately not modelled, because a rehearsal needs no exchange behind it:
       * updateState takes no STARK proof (no fact registry, no LogStateTransitionFact), checks neither
         configuration hashes nor the system-time and expiration windows (a replayed historic state
         would fail them), and refuses conditional transfers and forced trades; it does parse the
         program output exactly like parseProgramOutput, check and replace the shared-state hash, apply
         the deposit/withdrawal modifications and clear serviced forced withdrawals;
       * one asset only: the collateral token, quantum 1;
       * getVaultRoot() answers the empty height-64 position root, as dYdX's contract does: the position
         root lives only inside the shared state (keccak256 of its words), so a relay that checks a proof
         against getVaultRoot() fails here as it would on mainnet.
     The deployer is the governor and the operator. The escape verifier's address is fixed at deployment.
"""

from ethereum.ercs import IERC20

interface IFactRegistry:
    def isValid(fact: bytes32) -> bool: view

event LogUserRegistered:
    ethKey: address
    starkKey: uint256
    sender: address

event LogUserAdminAdded:
    userAdmin: address

# Same field order and types as StarkEx's LogDeposit (nothing indexed), so an indexer decodes both alike.
event LogDeposit:
    depositorEthKey: address
    starkKey: uint256
    vaultId: uint256
    assetType: uint256
    nonQuantizedAmount: uint256
    quantizedAmount: uint256

event LogDepositCancel:
    starkKey: uint256
    vaultId: uint256
    assetId: uint256

event LogDepositCancelReclaimed:
    starkKey: uint256
    vaultId: uint256
    assetType: uint256
    nonQuantizedAmount: uint256
    quantizedAmount: uint256

event LogWithdrawalAllowed:
    starkKey: uint256
    assetType: uint256
    nonQuantizedAmount: uint256
    quantizedAmount: uint256

event LogWithdrawalPerformed:
    starkKey: uint256
    assetType: uint256
    nonQuantizedAmount: uint256
    quantizedAmount: uint256
    recipient: address

event LogForcedWithdrawalRequest:
    starkKey: uint256
    vaultId: uint256
    quantizedAmount: uint256

event LogFrozen:
    pass

event LogUpdateState:
    sequenceNumber: uint256
    batchId: uint256

# The STARK curve y^2 = x^3 + x + beta over the field of prime K_MODULUS.
K_MODULUS: constant(uint256) = 2**251 + 17 * 2**192 + 1
K_BETA: constant(uint256) = 3141592653589793238462643383279502884197169399375105820974944592307816406665
# Perpetual position ids (= StarkEx vault ids) and forced-withdrawal amounts are below 2^64.
POSITION_ID_UPPER_BOUND: constant(uint256) = 2**64
AMOUNT_UPPER_BOUND: constant(uint256) = 2**64
TIMESTAMP_UPPER_BOUND: constant(uint256) = 2**32
# Asset ids are keccak hashes masked to 250 bits so that they fit in a STARK field element.
ASSET_ID_MASK: constant(uint256) = 2**250 - 1
COLLATERAL_QUANTUM: constant(uint256) = 1
MODEXP_PRECOMPILE: constant(address) = 0x0000000000000000000000000000000000000005

# The deployed dYdX contract's time locks (seconds), readable like theirs.
FREEZE_GRACE_PERIOD: public(constant(uint256)) = 1209600
DEPOSIT_CANCEL_DELAY: public(constant(uint256)) = 604800
UNFREEZE_DELAY: public(constant(uint256)) = 31536000
MAX_FORCED_ACTIONS_REQS_PER_BLOCK: public(constant(uint256)) = 10

# The empty height-64 position tree's root (what dYdX's getVaultRoot() returns) and dYdX's order root:
# 0x052ddcbdd431a044cf838a71d194248640210b316d7b1a568997ecad9dec9626 and
# 0x07ced9b79b31453a1d939ac7fc159188f369ee677d20385864c767fc391fa61b (decimal: Vyper reads 32-byte hex as bytes32).
EMPTY_VAULT_ROOT: constant(uint256) = 2342595862804194058781558162417993093531983529298102817989527487868713080358
ORDER_ROOT: constant(uint256) = 3531663064398379414392103051782416009365270089329406087415787723190509217307
TREE_HEIGHT: constant(uint256) = 64

# Program output (StarkEx perpetual): fixed words before the variable parts, the 3 words of one
# modification, and the 2 on-chain-data words that close it.
MAX_PROGRAM_OUTPUT_WORDS: constant(uint256) = 8192
MAX_APPLICATION_DATA_WORDS: constant(uint256) = 64
PROGRAM_OUTPUT_MIN_WORDS: constant(uint256) = 8
WORDS_PER_ASSET_CONFIG: constant(uint256) = 2
WORDS_PER_MODIFICATION: constant(uint256) = 3
WORDS_PER_FORCED_WITHDRAWAL: constant(uint256) = 3
ONCHAIN_DATA_WORDS: constant(uint256) = 2
MODIFICATION_BIAS: constant(uint256) = 2**64
FORCED_WITHDRAWAL: constant(uint256) = 0
FORCED_TRADE: constant(uint256) = 1

userAdmin: public(address)
collateralToken: public(address)
# The collateral asset id (asset type, quantum 1), derived on chain from the token address.
systemAssetType: public(uint256)

governor: address
operator: address
escapeVerifier: address
extraUserAdmins: HashMap[address, bool]

ethKeys: HashMap[uint256, address]
pendingDeposits: HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]
cancellationRequests: HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]
pendingWithdrawals: HashMap[uint256, HashMap[uint256, uint256]]

stateFrozen: bool
unFreezeTime: uint256
forcedActionRequests: HashMap[bytes32, uint256]
forcedRequestsInBlock: HashMap[uint256, uint256]

sharedStateHash: bytes32
sequenceNumber: uint256
lastBatchId: uint256
escapesUsed: HashMap[uint256, bool]
escapesUsedCount: uint256


@deploy
def __init__(user_admin: address, collateral_token: address, escape_verifier: address):
    assert user_admin != empty(address), "INVALID_USER_ADMIN"
    assert collateral_token.is_contract, "INVALID_COLLATERAL_TOKEN"
    # The verifier is deployed right after this contract (its address is known in advance), so it may
    # have no code yet.
    assert escape_verifier != empty(address), "INVALID_ESCAPE_VERIFIER"
    self.userAdmin = user_admin
    self.collateralToken = collateral_token
    self.escapeVerifier = escape_verifier
    self.governor = msg.sender
    self.operator = msg.sender
    # StarkEx asset info for an ERC-20: selector of "ERC20Token(address)" ‖ uint256(token) ‖ uint256(quantum).
    asset_info: Bytes[68] = concat(
        method_id("ERC20Token(address)"), abi_encode(collateral_token, COLLATERAL_QUANTUM)
    )
    self.systemAssetType = convert(keccak256(asset_info), uint256) & ASSET_ID_MASK
    # Before the first state update the shared state is empty: its hash is keccak256 of no words.
    self.sharedStateHash = keccak256(b"")


# --- curve and keys ------------------------------------------------------------------------------------


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


@internal
@view
def _eth_key(stark_key: uint256) -> address:
    eth_key: address = self.ethKeys[stark_key]
    assert eth_key != empty(address), "USER_UNREGISTERED"
    return eth_key


@internal
@view
def _require_sender_owns(stark_key: uint256):
    # StarkEx's isSenderStarkKey: an unregistered key fails first, with getEthKey's reason.
    assert msg.sender == self._eth_key(stark_key), "MISMATCHING_STARK_ETH_KEYS"


@internal
@view
def _is_user_admin(tested_admin: address) -> bool:
    return tested_admin == self.userAdmin or self.extraUserAdmins[tested_admin]


@internal
@view
def _require_not_frozen():
    assert not self.stateFrozen, "STATE_IS_FROZEN"


@external
@view
def isUserAdmin(tested_admin: address) -> bool:
    return self._is_user_admin(tested_admin)


@external
@view
def isOperator(tested_operator: address) -> bool:
    return tested_operator == self.operator


@external
@view
def getEthKey(starkKey: uint256) -> address:
    return self._eth_key(starkKey)


@external
def registerUserAdmin(newAdmin: address):
    # The local rehearsal's freezer (the deployer) registers its own helper key this way.
    assert msg.sender == self.governor, "ONLY_GOVERNANCE"
    assert newAdmin != empty(address), "INVALID_USER_ADMIN"
    self.extraUserAdmins[newAdmin] = True
    log LogUserAdminAdded(userAdmin=newAdmin)


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
    # ecrecover yields the zero address for a malformed signature; no admin is ever zero.
    assert signer != empty(address) and self._is_user_admin(signer), "INVALID_SIGNATURE"

    self.ethKeys[starkKey] = ethKey
    log LogUserRegistered(ethKey=ethKey, starkKey=starkKey, sender=msg.sender)


# --- tokens ----------------------------------------------------------------------------------------------


@internal
def _transfer_out(recipient: address, asset_type: uint256, quantized_amount: uint256):
    # The collateral is the only registered asset; the balance check is StarkEx's.
    assert asset_type == self.systemAssetType, "ASSET_TYPE_NOT_REGISTERED"
    amount: uint256 = quantized_amount * COLLATERAL_QUANTUM
    token: IERC20 = IERC20(self.collateralToken)
    balance_before: uint256 = staticcall token.balanceOf(self)
    assert extcall token.transfer(recipient, amount), "TOKEN_OPERATION_FAILED"
    balance_after: uint256 = staticcall token.balanceOf(self)
    assert balance_after <= balance_before, "UNDERFLOW"
    assert balance_after == balance_before - amount, "INCORRECT_AMOUNT_TRANSFERRED"


@internal
def _allow_withdrawal(stark_key: uint256, asset_id: uint256, quantized_amount: uint256):
    withdrawal: uint256 = self.pendingWithdrawals[stark_key][asset_id]
    assert quantized_amount <= max_value(uint256) - withdrawal, "WITHDRAWAL_OVERFLOW"
    self.pendingWithdrawals[stark_key][asset_id] = withdrawal + quantized_amount
    log LogWithdrawalAllowed(
        starkKey=stark_key,
        assetType=asset_id,
        nonQuantizedAmount=quantized_amount * COLLATERAL_QUANTUM,
        quantizedAmount=quantized_amount,
    )


# --- deposits --------------------------------------------------------------------------------------------


@external
@view
def getQuantizedDepositBalance(starkKey: uint256, assetId: uint256, vaultId: uint256) -> uint256:
    return self.pendingDeposits[starkKey][assetId][vaultId]


@external
@view
def getDepositBalance(starkKey: uint256, assetId: uint256, vaultId: uint256) -> uint256:
    return self.pendingDeposits[starkKey][assetId][vaultId] * COLLATERAL_QUANTUM


@external
@view
def getCancellationRequest(starkKey: uint256, assetId: uint256, vaultId: uint256) -> uint256:
    return self.cancellationRequests[starkKey][assetId][vaultId]


@external
@nonreentrant
def deposit(starkKey: uint256, assetType: uint256, vaultId: uint256, quantizedAmount: uint256):
    # Anyone may fund a registered key's position; StarkEx does not require msg.sender to own the key.
    self._require_not_frozen()
    assert vaultId < POSITION_ID_UPPER_BOUND, "OUT_OF_RANGE_POSITION_ID"
    assert self.ethKeys[starkKey] != empty(address), "INVALID_STARK_KEY"
    assert assetType == self.systemAssetType, "INVALID_ASSET_TYPE"

    pending: uint256 = self.pendingDeposits[starkKey][assetType][vaultId]
    assert quantizedAmount <= max_value(uint256) - pending, "DEPOSIT_OVERFLOW"
    self.pendingDeposits[starkKey][assetType][vaultId] = pending + quantizedAmount
    # A deposit by the key's owner into its own position withdraws a pending cancellation, as in StarkEx.
    if msg.sender == self.ethKeys[starkKey] and self.cancellationRequests[starkKey][assetType][vaultId] != 0:
        self.cancellationRequests[starkKey][assetType][vaultId] = 0

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


@external
def depositCancel(starkKey: uint256, assetId: uint256, vaultId: uint256):
    # Allowed while frozen: it is how a deposit the operator never processed comes back.
    self._require_sender_owns(starkKey)
    self.cancellationRequests[starkKey][assetId][vaultId] = block.timestamp
    log LogDepositCancel(starkKey=starkKey, vaultId=vaultId, assetId=assetId)


@external
@nonreentrant
def depositReclaim(starkKey: uint256, assetId: uint256, vaultId: uint256):
    # Pays msg.sender, who must be the key's registered Ethereum address, after DEPOSIT_CANCEL_DELAY.
    self._require_sender_owns(starkKey)
    request_time: uint256 = self.cancellationRequests[starkKey][assetId][vaultId]
    assert request_time != 0, "DEPOSIT_NOT_CANCELED"
    assert block.timestamp >= request_time + DEPOSIT_CANCEL_DELAY, "DEPOSIT_LOCKED"

    quantized_amount: uint256 = self.pendingDeposits[starkKey][assetId][vaultId]
    self.pendingDeposits[starkKey][assetId][vaultId] = 0
    self.cancellationRequests[starkKey][assetId][vaultId] = 0
    self._transfer_out(msg.sender, assetId, quantized_amount)
    log LogDepositCancelReclaimed(
        starkKey=starkKey,
        vaultId=vaultId,
        assetType=assetId,
        nonQuantizedAmount=quantized_amount * COLLATERAL_QUANTUM,
        quantizedAmount=quantized_amount,
    )


# --- withdrawals -----------------------------------------------------------------------------------------


@external
@view
def getWithdrawalBalance(starkKey: uint256, assetId: uint256) -> uint256:
    return self.pendingWithdrawals[starkKey][assetId] * COLLATERAL_QUANTUM


@internal
def _withdraw_to(stark_key: uint256, asset_type: uint256, recipient: address):
    # StarkEx first reads the asset's registration (mintable? fungible?): an unknown asset fails here.
    assert asset_type == self.systemAssetType, "ASSET_TYPE_NOT_REGISTERED"
    quantized_amount: uint256 = self.pendingWithdrawals[stark_key][asset_type]
    self.pendingWithdrawals[stark_key][asset_type] = 0
    self._transfer_out(recipient, asset_type, quantized_amount)
    log LogWithdrawalPerformed(
        starkKey=stark_key,
        assetType=asset_type,
        nonQuantizedAmount=quantized_amount * COLLATERAL_QUANTUM,
        quantizedAmount=quantized_amount,
        recipient=recipient,
    )


@external
@nonreentrant
def withdraw(starkKey: uint256, assetType: uint256):
    # Anyone may send it; the funds always go to the key's registered Ethereum address.
    self._withdraw_to(starkKey, assetType, self._eth_key(starkKey))


@external
@nonreentrant
def withdrawTo(starkKey: uint256, assetType: uint256, recipient: address):
    self._require_sender_owns(starkKey)
    self._withdraw_to(starkKey, assetType, recipient)


# --- forced withdrawals and freezing --------------------------------------------------------------------


@internal
@pure
def _forced_withdrawal_hash(stark_key: uint256, vault_id: uint256, quantized_amount: uint256) -> bytes32:
    return keccak256(concat(b"FORCED_WITHDRAWAL", abi_encode(stark_key, vault_id, quantized_amount)))


@external
@view
def getForcedWithdrawalRequest(starkKey: uint256, vaultId: uint256, quantizedAmount: uint256) -> uint256:
    return self.forcedActionRequests[self._forced_withdrawal_hash(starkKey, vaultId, quantizedAmount)]


@external
def forcedWithdrawalRequest(starkKey: uint256, vaultId: uint256, quantizedAmount: uint256, premiumCost: bool):
    self._require_not_frozen()
    self._require_sender_owns(starkKey)
    assert vaultId < POSITION_ID_UPPER_BOUND, "OUT_OF_RANGE_POSITION_ID"
    assert quantizedAmount < AMOUNT_UPPER_BOUND, "ILLEGAL_AMOUNT"
    action: bytes32 = self._forced_withdrawal_hash(starkKey, vaultId, quantizedAmount)
    assert self.forcedActionRequests[action] == 0, "REQUEST_ALREADY_PENDING"
    # StarkEx caps requests per block unless the sender pays a premium (a long gas-burning loop there;
    # the stand-in charges nothing for it).
    if not premiumCost:
        assert self.forcedRequestsInBlock[block.number] < MAX_FORCED_ACTIONS_REQS_PER_BLOCK, "MAX_REQUESTS_PER_BLOCK_REACHED"
        self.forcedRequestsInBlock[block.number] += 1
    self.forcedActionRequests[action] = block.timestamp
    log LogForcedWithdrawalRequest(starkKey=starkKey, vaultId=vaultId, quantizedAmount=quantizedAmount)


@external
def freezeRequest(starkKey: uint256, vaultId: uint256, quantizedAmount: uint256):
    # Anyone may freeze the exchange once a forced withdrawal went unserviced for FREEZE_GRACE_PERIOD.
    self._require_not_frozen()
    assert vaultId < POSITION_ID_UPPER_BOUND, "OUT_OF_RANGE_POSITION_ID"
    request_time: uint256 = self.forcedActionRequests[self._forced_withdrawal_hash(starkKey, vaultId, quantizedAmount)]
    assert request_time != 0, "FORCED_ACTION_UNREQUESTED"
    freeze_time: uint256 = request_time + FREEZE_GRACE_PERIOD
    assert block.timestamp >= freeze_time, "FORCED_ACTION_PENDING"
    assert freeze_time > self.unFreezeTime, "REFREEZE_ATTEMPT"
    self.unFreezeTime = block.timestamp + UNFREEZE_DELAY
    self.stateFrozen = True
    log LogFrozen()


@external
@view
def isFrozen() -> bool:
    return self.stateFrozen


# --- state updates ---------------------------------------------------------------------------------------


@external
def updateState(
    programOutput: DynArray[uint256, MAX_PROGRAM_OUTPUT_WORDS],
    applicationData: DynArray[uint256, MAX_APPLICATION_DATA_WORDS],
):
    self._require_not_frozen()
    assert msg.sender == self.operator, "ONLY_OPERATOR"

    # parseProgramOutput: general config hash, asset configs, previous state, new state, expiration,
    # modifications, forced actions, conditions, the two on-chain-data words.
    size: uint256 = len(programOutput)
    assert size >= PROGRAM_OUTPUT_MIN_WORDS, "programOutput does not contain all required fields."
    n_asset_configs: uint256 = programOutput[1]
    assert n_asset_configs < 2**16, "ILLEGAL_NUMBER_OF_ASSETS"
    offset: uint256 = 2 + n_asset_configs * WORDS_PER_ASSET_CONFIG
    assert size >= offset + 1, "programOutput invalid size (nAssetConfig)"
    previous_size: uint256 = programOutput[offset]
    offset += 1
    previous_at: uint256 = offset
    offset += previous_size
    assert size >= offset + 1, "programOutput invalid size (prevState)"
    new_size: uint256 = programOutput[offset]
    offset += 1
    new_at: uint256 = offset
    offset += new_size
    assert size >= offset + 2, "programOutput invalid size (newState)"
    expiration: uint256 = programOutput[offset]
    offset += 1
    n_modifications: uint256 = programOutput[offset]
    offset += 1
    modifications_at: uint256 = offset
    offset += n_modifications * WORDS_PER_MODIFICATION
    forced_size: uint256 = programOutput[offset]
    offset += 1
    n_forced: uint256 = programOutput[offset]
    offset += 1
    forced_at: uint256 = offset
    offset += forced_size
    n_conditions: uint256 = programOutput[offset]
    offset += 1
    offset += n_conditions + ONCHAIN_DATA_WORDS
    assert size == offset, "programOutput invalid size (mods/forced/conditions)"
    assert expiration < TIMESTAMP_UPPER_BOUND, "Expiration timestamp is out of range."

    # abi_encode(array) is an offset word, a length word, then the words: each state is a slice of it.
    encoded: Bytes[262208] = abi_encode(programOutput)
    previous_hash: bytes32 = keccak256(slice(encoded, 64 + 32 * previous_at, 32 * previous_size))
    assert previous_hash == self.sharedStateHash, "INVALID_PREVIOUS_SHARED_STATE"
    assert len(applicationData) >= 3, "APP_DATA_TOO_SHORT"
    assert applicationData[1] == self.lastBatchId, "WRONG_PREVIOUS_BATCH_ID"

    # performUpdateState.
    self.sharedStateHash = keccak256(slice(encoded, 64 + 32 * new_at, 32 * new_size))
    self.sequenceNumber += 1
    batch_id: uint256 = applicationData[0]
    self.lastBatchId = batch_id

    asset_id: uint256 = self.systemAssetType
    at: uint256 = modifications_at
    for _index: uint256 in range(n_modifications, bound=MAX_PROGRAM_OUTPUT_WORDS):
        stark_key: uint256 = programOutput[at]
        vault_id: uint256 = programOutput[at + 1]
        biased_diff: uint256 = programOutput[at + 2]
        assert biased_diff < 2 * MODIFICATION_BIAS, "Illegal Balance Diff"
        assert stark_key < K_MODULUS, "Stark key >= PRIME"
        if biased_diff > MODIFICATION_BIAS:
            # A deposit the operator moved into the position.
            accepted: uint256 = biased_diff - MODIFICATION_BIAS
            pending: uint256 = self.pendingDeposits[stark_key][asset_id][vault_id]
            assert pending >= accepted, "DEPOSIT_INSUFFICIENT"
            self.pendingDeposits[stark_key][asset_id][vault_id] = pending - accepted
        elif biased_diff < MODIFICATION_BIAS:
            self._allow_withdrawal(stark_key, asset_id, MODIFICATION_BIAS - biased_diff)
        at += WORDS_PER_MODIFICATION

    assert applicationData[2] == n_conditions, "N_CONDITIONS_MISMATCH"
    assert n_conditions == 0, "stand-in: conditional transfers are not modelled"

    at = forced_at
    for _index: uint256 in range(n_forced, bound=MAX_PROGRAM_OUTPUT_WORDS):
        action_type: uint256 = programOutput[at]
        at += 1
        if action_type == FORCED_WITHDRAWAL:
            action: bytes32 = self._forced_withdrawal_hash(programOutput[at], programOutput[at + 1], programOutput[at + 2])
            assert self.forcedActionRequests[action] != 0, "NON_EXISTING_ACTION"
            self.forcedActionRequests[action] = 0
            at += WORDS_PER_FORCED_WITHDRAWAL
        elif action_type == FORCED_TRADE:
            raise "stand-in: forced trades are not modelled"
        else:
            raise "UNKNOWN_FORCED_ACTION_TYPE"
    assert forced_at + forced_size == at, "SIZE_MISMATCH"

    log LogUpdateState(sequenceNumber=self.sequenceNumber, batchId=batch_id)


# --- escape ----------------------------------------------------------------------------------------------


@external
def escape(starkKey: uint256, vaultId: uint256, quantizedAmount: uint256):
    # Anyone may send it for any position, once; the claim must be a fact of the escape verifier.
    assert self.stateFrozen, "STATE_NOT_FROZEN"
    assert not self.escapesUsed[vaultId], "ESCAPE_ALREADY_USED"
    self.escapesUsed[vaultId] = True
    self.escapesUsedCount += 1
    claim: bytes32 = keccak256(abi_encode(starkKey, quantizedAmount, self.sharedStateHash, vaultId))
    assert staticcall IFactRegistry(self.escapeVerifier).isValid(claim), "ESCAPE_LACKS_PROOF"
    self._allow_withdrawal(starkKey, self.systemAssetType, quantizedAmount)


# --- views of the state roots ------------------------------------------------------------------------


@external
@view
def getSystemAssetType() -> uint256:
    return self.systemAssetType


@external
@pure
def getVaultRoot() -> uint256:
    return EMPTY_VAULT_ROOT


@external
@pure
def getVaultTreeHeight() -> uint256:
    return TREE_HEIGHT


@external
@pure
def getOrderRoot() -> uint256:
    return ORDER_ROOT


@external
@pure
def getOrderTreeHeight() -> uint256:
    return TREE_HEIGHT


@external
@view
def getSequenceNumber() -> uint256:
    return self.sequenceNumber


@external
@view
def getLastBatchId() -> uint256:
    return self.lastBatchId
