"""The contract views the relay reads: USDC balance and allowance, ``getEthKey``, ``isUserAdmin``.

Calldata comes from :mod:`dydx_airgap.shared.dydx_v3.calldata`; results are decoded strictly (one 32-byte
word, a clean address word). A view that reverts where a revert has a meaning (``getEthKey`` of an
unregistered key) is answered as such; any other failure propagates.
"""

from __future__ import annotations

from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError
from dydx_airgap.shared.dydx_v3.calldata import (
    encode_allowance,
    encode_balance_of,
    encode_get_eth_key,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import FormatError, RemoteError
from dydx_airgap.shared.ethereum.abi import decode_address_result, decode_uint256_result
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256

IS_USER_ADMIN_SELECTOR = keccak256(b"isUserAdmin(address)")[:4]


def _uint(result: bytes, what: str) -> int:
    try:
        return decode_uint256_result(result)
    except FormatError as exc:
        raise RemoteError(f"{what}: the contract's answer is not one uint256") from exc


def usdc_balance(rpc: EthRpc, network: Network, owner: str) -> int:
    return _uint(rpc.eth_call(network.usdc, encode_balance_of(owner)), "USDC balanceOf")


def usdc_allowance(rpc: EthRpc, network: Network, owner: str) -> int:
    """How much USDC the StarkPerpetual contract may move from ``owner``."""
    data = encode_allowance(owner, network.stark_perpetual)
    return _uint(rpc.eth_call(network.usdc, data), "USDC allowance")


def registered_eth_key(rpc: EthRpc, network: Network, stark_key: int) -> str | None:
    """The address that registered ``stark_key`` on StarkPerpetual, or None if nobody did (it reverts)."""
    try:
        result = rpc.eth_call(network.stark_perpetual, encode_get_eth_key(stark_key))
    except RpcCallError as exc:
        if exc.reverted:
            return None
        raise
    try:
        address = decode_address_result(result)
    except FormatError as exc:
        raise RemoteError("getEthKey: the contract's answer is not an address") from exc
    return None if parse_address(address) == bytes(20) else address


def is_user_admin(rpc: EthRpc, network: Network, address: str) -> bool | None:
    """Whether StarkPerpetual accepts ``address``'s registration signatures; None if it cannot tell."""
    data = IS_USER_ADMIN_SELECTOR + bytes(12) + parse_address(address)
    try:
        result = rpc.eth_call(network.stark_perpetual, data)
    except RpcCallError:
        return None
    if len(result) != 32 or int.from_bytes(result, "big") > 1:
        return None
    return result[-1] == 1


def require_contract(rpc: EthRpc, address: str, what: str) -> None:
    """Refuse to prepare a call to an address without code (wrong node for this network, or a typo)."""
    if not rpc.code(address):
        raise RemoteError(
            f"there is no contract at {to_checksum_address(address)} ({what}) on the node's chain: "
            "is --rpc a node of this network?"
        )
