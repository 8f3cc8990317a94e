"""Deploy the stand-in USDC, StarkPerpetual and escape verifier on a ``LocalNode`` and fund accounts.

The deployer's key is derived from a public string: it guards nothing but play money on a chain that
lives in one process, and a fixed key makes contract addresses the same on every start (USDC is the
deployer's nonce-0 contract, StarkPerpetual its nonce-1 contract, the escape verifier its nonce-2
contract) so rehearsal configs can be reused and ``shared/dydx_v3/networks.py`` can list them. The
StarkPerpetual takes the verifier's address in its constructor, so that address is computed from the
deployer's nonce 2 before the verifier exists, and checked once it does.
Deployment goes through ``eth_sendRawTransaction``'s own path: signed type-2 bytes, checked and mined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve

from dydx_airgap.online.rehearsal.evm.compiler import compile_contract
from dydx_airgap.online.rehearsal.evm.node import CallRequest, LocalNode, TransactionRecord
from dydx_airgap.online.rehearsal.evm.pedersen_precompile import PEDERSEN_PRECOMPILE_ADDRESS
from dydx_airgap.shared.dydx_v3.calldata import collateral_asset_id, format_asset_id, usdc_to_base_units
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum import rlp
from dydx_airgap.shared.ethereum.address import address_from_public_key, parse_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction

DEPLOYER_PRIVATE_KEY = keccak256(b"dydx-airgap local chain deployer: public, worthless, local only")
DEPLOYER_ADDRESS = address_from_public_key(
    coincurve.PrivateKey(DEPLOYER_PRIVATE_KEY).public_key.format(compressed=False)
)
DEPLOYER_BALANCE_WEI = 10**9 * 10**18
DEFAULT_FUND_ETH = "10"
DEFAULT_FUND_USDC = "100000"
USDC_CONTRACT = "LocalUsdCoin"
PERPETUAL_CONTRACT = "StarkPerpetualStandIn"
ESCAPE_VERIFIER_CONTRACT = "PerpetualEscapeVerifierStandIn"
#: The deployer's nonces of the three contracts (their addresses follow from them).
USDC_NONCE, PERPETUAL_NONCE, ESCAPE_VERIFIER_NONCE = 0, 1, 2
EVENT_SIGNATURES = {
    "LogUserRegistered": "LogUserRegistered(address,uint256,address)",
    "LogDeposit": "LogDeposit(address,uint256,uint256,uint256,uint256,uint256)",
    "LogDepositCancel": "LogDepositCancel(uint256,uint256,uint256)",
    "LogDepositCancelReclaimed": "LogDepositCancelReclaimed(uint256,uint256,uint256,uint256,uint256)",
    "LogForcedWithdrawalRequest": "LogForcedWithdrawalRequest(uint256,uint256,uint256)",
    "LogFrozen": "LogFrozen()",
    "LogUpdateState": "LogUpdateState(uint256,uint256)",
    "LogWithdrawalAllowed": "LogWithdrawalAllowed(uint256,uint256,uint256,uint256)",
    "LogWithdrawalPerformed": "LogWithdrawalPerformed(uint256,uint256,uint256,uint256,address)",
    "LogEscapeVerified": "LogEscapeVerified(uint256,int256,bytes32,uint256)",
    "Transfer": "Transfer(address,address,uint256)",
    "Approval": "Approval(address,address,uint256)",
}
_ETH_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,18}))?", re.ASCII)
_GAS_MARGIN_PERCENT = 25


@dataclass(frozen=True)
class FundSpec:
    """An account to give ETH (in wei) and stand-in USDC (in base units) at start."""

    address: str
    eth_wei: int
    usdc_units: int

    @classmethod
    def parse(cls, text: str) -> FundSpec:
        """``ADDRESS[:ETH[:USDC]]``, e.g. ``0xAb…:5:2500.5``; defaults 10 ETH and 100000 USDC."""
        parts = text.split(":")
        if not 1 <= len(parts) <= 3:
            raise InputError(f"--fund {text!r}: use ADDRESS[:ETH[:USDC]]")
        address = to_checksum_address(parse_address(parts[0]))
        eth = parts[1] if len(parts) > 1 and parts[1] else DEFAULT_FUND_ETH
        usdc = parts[2] if len(parts) > 2 and parts[2] else DEFAULT_FUND_USDC
        return cls(address=address, eth_wei=eth_to_wei(eth), usdc_units=usdc_to_base_units(usdc))


@dataclass(frozen=True)
class ContractInfo:
    address: str
    abi: list[dict[str, Any]]


@dataclass(frozen=True)
class Deployment:
    """Where the stand-ins live on the local chain; written as JSON for the API, relay and indexer."""

    chain_id: int
    rpc_url: str
    stark_perpetual: ContractInfo
    usdc: ContractInfo
    escape_verifier: ContractInfo
    collateral_asset_id: int
    operator: str
    deployer: str
    deployment_block: int
    funded: tuple[FundSpec, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "rpcUrl": self.rpc_url,
            "starkPerpetual": self.stark_perpetual.address,
            "usdc": self.usdc.address,
            "escapeVerifier": self.escape_verifier.address,
            "pedersenPrecompile": to_checksum_address(PEDERSEN_PRECOMPILE_ADDRESS),
            "usdcDecimals": 6,
            "collateralAssetId": format_asset_id(self.collateral_asset_id),
            "operator": self.operator,
            "deployer": self.deployer,
            "deploymentBlock": self.deployment_block,
            "events": {name: "0x" + keccak256(sig.encode()).hex() for name, sig in EVENT_SIGNATURES.items()},
            "funded": [
                {"address": spec.address, "ethWei": str(spec.eth_wei), "usdcBaseUnits": str(spec.usdc_units)}
                for spec in self.funded
            ],
            "abi": {
                "StarkPerpetual": self.stark_perpetual.abi,
                "USDC": self.usdc.abi,
                "PerpetualEscapeVerifier": self.escape_verifier.abi,
            },
        }


def eth_to_wei(text: str) -> int:
    """Exact decimal ETH (up to 18 decimals) → wei."""
    match = _ETH_AMOUNT.fullmatch(text)
    if match is None:
        raise InputError(f"ETH amount {text[:40]!r} is not a plain decimal number like 10 or 0.5")
    whole, fraction = match.group(1), match.group(2) or ""
    return int(whole) * 10**18 + int(fraction.ljust(18, "0"))


class Deployer:
    """Sends transactions from the deployer account through the node's raw-transaction path."""

    def __init__(self, node: LocalNode) -> None:
        self._node = node
        self._key = coincurve.PrivateKey(DEPLOYER_PRIVATE_KEY)
        self.address = parse_address(DEPLOYER_ADDRESS)

    def send(self, to: bytes | None, data: bytes = b"", value: int = 0) -> TransactionRecord:
        node = self._node
        latest = node.block_number()
        gas = node.estimate_gas(CallRequest(sender=self.address, to=to, value=value, data=data), latest)
        tip = node.priority_fee
        tx = Eip1559Transaction(
            chain_id=node.chain_id,
            nonce=node.nonce(self.address, None),
            max_priority_fee_per_gas=tip,
            max_fee_per_gas=2 * node.next_base_fee() + tip,
            gas_limit=gas * (100 + _GAS_MARGIN_PERCENT) // 100,
            to=to,
            value=value,
            data=data,
        )
        signature = self._key.sign_recoverable(tx.signing_hash(), hasher=None)
        tx_hash = node.send_raw_transaction(tx.with_signature(signature).raw())
        record = node.transaction(tx_hash)
        if record is not None and not record.mined:
            node.mine()
        if record is None or record.status != 1:
            raise RuntimeError(f"local chain setup transaction 0x{tx_hash.hex()} failed")
        return record


def deploy_stand_ins(
    node: LocalNode, operator: str, rpc_url: str, cache_dir: Path | None = None
) -> tuple[Deployer, Deployment]:
    """Deploy USDC (local), the StarkPerpetual stand-in whose user admin is ``operator``, and its verifier."""
    operator_raw = parse_address(operator)
    if operator_raw == bytes(20):
        raise InputError("the operator (registration signer) cannot be the zero address")
    deployer = Deployer(node)
    if node.nonce(deployer.address, None) != USDC_NONCE:
        raise RuntimeError("the stand-ins must be the deployer's first transactions (fixed addresses)")
    usdc_code = compile_contract(USDC_CONTRACT, cache_dir)
    perpetual_code = compile_contract(PERPETUAL_CONTRACT, cache_dir)
    verifier_code = compile_contract(ESCAPE_VERIFIER_CONTRACT, cache_dir)
    verifier_address = create_address(deployer.address, ESCAPE_VERIFIER_NONCE)

    usdc_record = deployer.send(None, usdc_code.bytecode)
    usdc_address = _created(usdc_record)
    constructor_args = bytes(12) + operator_raw + bytes(12) + usdc_address + bytes(12) + verifier_address
    perpetual_record = deployer.send(None, perpetual_code.bytecode + constructor_args)
    perpetual_address = _created(perpetual_record)
    verifier_record = deployer.send(None, verifier_code.bytecode)
    if _created(verifier_record) != verifier_address:
        raise RuntimeError("the escape verifier did not land at the deployer's nonce-2 address")

    usdc_checksum = to_checksum_address(usdc_address)
    deployment = Deployment(
        chain_id=node.chain_id,
        rpc_url=rpc_url,
        stark_perpetual=ContractInfo(to_checksum_address(perpetual_address), perpetual_code.abi),
        usdc=ContractInfo(usdc_checksum, usdc_code.abi),
        escape_verifier=ContractInfo(to_checksum_address(verifier_address), verifier_code.abi),
        collateral_asset_id=collateral_asset_id(usdc_checksum),
        operator=to_checksum_address(operator_raw),
        deployer=DEPLOYER_ADDRESS,
        deployment_block=perpetual_record.block_number or 0,
        funded=(),
    )
    return deployer, deployment


def fund_account(deployer: Deployer, deployment: Deployment, spec: FundSpec) -> None:
    """Send ``spec.eth_wei`` and mint ``spec.usdc_units`` stand-in USDC to ``spec.address``."""
    recipient = parse_address(spec.address)
    if spec.eth_wei:
        deployer.send(recipient, value=spec.eth_wei)
    if spec.usdc_units:
        mint = keccak256(b"mint(address,uint256)")[:4]
        data = mint + bytes(12) + recipient + spec.usdc_units.to_bytes(32, "big")
        deployer.send(parse_address(deployment.usdc.address), data)


def create_address(sender: bytes, nonce: int) -> bytes:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to: keccak256(rlp([sender, nonce]))[12:]."""
    return keccak256(rlp.encode([sender, rlp.encode_uint(nonce)]))[12:]


def _created(record: TransactionRecord) -> bytes:
    if record.contract_address is None:
        raise RuntimeError("contract creation returned no address")
    return record.contract_address
