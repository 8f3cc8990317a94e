# pragma version ~=0.4.3
# @license Apache-2.0
"""
@title USD Coin (local)
@notice A 6-decimal ERC-20 standing in for USDC on the local rehearsal chain. Only the account that
        deployed it can mint; everything else is plain ERC-20. It has no value anywhere.
"""

from ethereum.ercs import IERC20

implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

name: public(constant(String[32])) = "USD Coin (local)"
symbol: public(constant(String[8])) = "USDC"
# Real USDC has 6 decimals; amounts in the dYdX flow are base units (quantum 1).
decimals: public(constant(uint8)) = 6

totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
minter: public(address)


@deploy
def __init__():
    self.minter = msg.sender


@external
def mint(receiver: address, amount: uint256):
    # Minting is the only privileged operation, so a test cannot conjure tokens from another account.
    assert msg.sender == self.minter, "ONLY_MINTER"
    assert receiver != empty(address), "MINT_TO_ZERO_ADDRESS"
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@internal
def _move(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "TRANSFER_TO_ZERO_ADDRESS"
    assert self.balanceOf[sender] >= amount, "TRANSFER_AMOUNT_EXCEEDS_BALANCE"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._move(msg.sender, receiver, amount)
    return True


@external
def transferFrom(owner: address, receiver: address, amount: uint256) -> bool:
    # Like FiatToken (real USDC), the allowance is always decremented, even an "unlimited" one.
    assert self.allowance[owner][msg.sender] >= amount, "TRANSFER_AMOUNT_EXCEEDS_ALLOWANCE"
    self.allowance[owner][msg.sender] -= amount
    self._move(owner, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    assert spender != empty(address), "APPROVE_TO_ZERO_ADDRESS"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True
