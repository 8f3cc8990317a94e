"""shared/dydx_v3/calldata.py against eth_abi (an independent ABI encoder) and the spec's published constants."""

from __future__ import annotations

from decimal import Decimal, localcontext

import eth_abi
import pytest
from eth_utils import function_signature_to_4byte_selector as selector_of
from eth_utils import keccak as reference_keccak
from hypothesis import given
from hypothesis import strategies as st

from dydx_airgap.shared.dydx_v3 import calldata
from dydx_airgap.shared.dydx_v3.calldata import (
    STARK_FIELD_PRIME,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    collateral_asset_id,
    decode_calldata,
    encode_allowance,
    encode_balance_of,
    encode_get_eth_key,
    format_asset_id,
    format_usdc,
    usdc_to_base_units,
)
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.ethereum.abi import decode_address_result, decode_uint256_result
from dydx_airgap.shared.ethereum.address import to_checksum_address

USER = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
SPENDER = "0xD54f502e184B6B739d7D27a6410a67dc462D69c8"
STARK_KEY = 0x39D88860B99B1809A63ADD01F7DFA59676AE006BBCDF38FF30B6A69DCF55ED3
SIGNATURE = bytes(range(1, 65)) + b"\x1b"

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
stark_keys = st.integers(min_value=1, max_value=STARK_FIELD_PRIME - 1)
uint256s = st.integers(min_value=0, max_value=2**256 - 1)
signatures = st.tuples(st.binary(min_size=64, max_size=64), st.sampled_from([27, 28])).map(
    lambda parts: parts[0] + bytes([parts[1]])
)


@pytest.mark.parametrize(
    ("constant", "signature"),
    [
        ("REGISTER_USER_SELECTOR", "registerUser(address,uint256,bytes)"),
        ("APPROVE_SELECTOR", "approve(address,uint256)"),
        ("DEPOSIT_SELECTOR", "deposit(uint256,uint256,uint256,uint256)"),
        ("GET_ETH_KEY_SELECTOR", "getEthKey(uint256)"),
        ("BALANCE_OF_SELECTOR", "balanceOf(address)"),
        ("ALLOWANCE_SELECTOR", "allowance(address,address)"),
        ("ERC20_ASSET_SELECTOR", "ERC20Token(address)"),
    ],
)
def test_selectors_are_the_keccak_of_their_signatures(constant: str, signature: str) -> None:
    assert getattr(calldata, constant) == selector_of(signature)


def test_spec_selectors() -> None:
    # Spec §7.2 prints these; a typo in either place shows up here.
    assert calldata.REGISTER_USER_SELECTOR.hex() == "dd2414d4"
    assert calldata.DEPOSIT_SELECTOR.hex() == "2505c3d9"
    assert calldata.APPROVE_SELECTOR.hex() == "095ea7b3"
    assert calldata.GET_ETH_KEY_SELECTOR.hex() == "1dbd1da7"


@given(eth_key=addresses, stark_key=stark_keys, signature=signatures)
def test_register_user_matches_eth_abi_and_round_trips(
    eth_key: str, stark_key: int, signature: bytes
) -> None:
    call = RegisterUserCall(eth_key=eth_key, stark_key=stark_key, signature=signature)
    encoded = call.encode()
    expected = selector_of("registerUser(address,uint256,bytes)") + eth_abi.encode(
        ["address", "uint256", "bytes"], [eth_key, stark_key, signature]
    )
    assert encoded == expected
    assert decode_calldata(encoded) == call


@given(spender=addresses, amount=uint256s)
def test_approve_matches_eth_abi_and_round_trips(spender: str, amount: int) -> None:
    call = ApproveCall(spender=spender, amount=amount)
    expected = selector_of("approve(address,uint256)") + eth_abi.encode(
        ["address", "uint256"], [spender, amount]
    )
    assert call.encode() == expected
    assert decode_calldata(expected) == call


@given(
    stark_key=stark_keys,
    asset_type=st.integers(min_value=0, max_value=2**250 - 1),
    vault_id=st.integers(min_value=0, max_value=2**64 - 1),
    amount=uint256s,
)
def test_deposit_matches_eth_abi_and_round_trips(
    stark_key: int, asset_type: int, vault_id: int, amount: int
) -> None:
    call = DepositCall(stark_key=stark_key, asset_type=asset_type, vault_id=vault_id, quantized_amount=amount)
    expected = selector_of("deposit(uint256,uint256,uint256,uint256)") + eth_abi.encode(
        ["uint256"] * 4, [stark_key, asset_type, vault_id, amount]
    )
    assert call.encode() == expected
    assert decode_calldata(expected) == call


def test_lower_case_addresses_are_normalised_to_checksum_form() -> None:
    call = ApproveCall(spender=SPENDER.lower(), amount=1)
    assert call.spender == SPENDER
    assert RegisterUserCall(eth_key=USER.lower(), stark_key=STARK_KEY, signature=SIGNATURE).eth_key == USER


def _register_bytes() -> bytearray:
    return bytearray(RegisterUserCall(eth_key=USER, stark_key=STARK_KEY, signature=SIGNATURE).encode())


def _mutated(offset: int, value: int) -> bytes:
    data = _register_bytes()
    data[offset] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "4-byte selector"),
        (b"\xdd\x24\x14", "4-byte selector"),
        (selector_of("transfer(address,uint256)") + bytes(64), "unknown function selector 0xa9059cbb"),
        (bytes(_register_bytes()[:-1]), "exactly 224 bytes"),
        (bytes(_register_bytes()) + b"\x00", "exactly 224 bytes"),
        (_mutated(4, 1), "non-zero high bytes"),  # dirty address padding
        (_mutated(4 + 2 * 32 + 31, 0x40), "offset must be 0x60"),
        (_mutated(4 + 3 * 32 + 31, 64), "must be 65 bytes"),
        (_mutated(len(_register_bytes()) - 1, 1), "padding is not zero"),
        (_mutated(4 + 4 * 32 + 64, 0), "v byte must be 27 or 28"),
        (calldata.APPROVE_SELECTOR + bytes(63), "exactly 64 bytes"),
        (calldata.DEPOSIT_SELECTOR + bytes(129), "exactly 128 bytes"),
    ],
)
def test_decode_refuses_non_canonical_or_unknown_calldata(data: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        decode_calldata(data)


def test_decode_refuses_stark_keys_the_contract_would_refuse() -> None:
    for bad_key in (0, STARK_FIELD_PRIME, 2**256 - 1):
        encoded = selector_of("deposit(uint256,uint256,uint256,uint256)") + eth_abi.encode(
            ["uint256"] * 4, [bad_key, 1, 1, 1]
        )
        with pytest.raises(FormatError, match="STARK public key"):
            decode_calldata(encoded)
    too_far = selector_of("deposit(uint256,uint256,uint256,uint256)") + eth_abi.encode(
        ["uint256"] * 4, [STARK_KEY, 1, 2**64, 1]
    )
    with pytest.raises(FormatError, match="position id"):
        decode_calldata(too_far)


def test_encoders_refuse_bad_arguments() -> None:
    with pytest.raises(FormatError, match="65 bytes"):
        RegisterUserCall(eth_key=USER, stark_key=STARK_KEY, signature=SIGNATURE[:64])
    with pytest.raises(InputError, match="checksum"):
        ApproveCall(spender=SPENDER[:-1] + ("c" if SPENDER[-1] != "c" else "d"), amount=1)
    with pytest.raises(FormatError, match="out of range"):
        ApproveCall(spender=SPENDER, amount=2**256)
    with pytest.raises(FormatError, match="must be an integer"):
        DepositCall(stark_key=STARK_KEY, asset_type=1, vault_id=True, quantized_amount=1)


def test_view_calls_and_results() -> None:
    assert encode_get_eth_key(STARK_KEY) == selector_of("getEthKey(uint256)") + eth_abi.encode(
        ["uint256"], [STARK_KEY]
    )
    assert encode_balance_of(USER) == selector_of("balanceOf(address)") + eth_abi.encode(["address"], [USER])
    assert encode_allowance(USER, SPENDER) == selector_of("allowance(address,address)") + eth_abi.encode(
        ["address", "address"], [USER, SPENDER]
    )
    assert decode_uint256_result(eth_abi.encode(["uint256"], [12345])) == 12345
    assert decode_address_result(eth_abi.encode(["address"], [USER])) == USER
    with pytest.raises(FormatError):
        decode_uint256_result(b"\x00" * 31)
    with pytest.raises(FormatError, match="non-zero high bytes"):
        decode_address_result(b"\x01" + bytes(31))


# --- amounts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1250.50", 1_250_500_000),
        ("1.005", 1_005_000),
        ("8.2", 8_200_000),
        ("0", 0),
        ("0.000001", 1),
        ("7", 7_000_000),
        ("100000.123456", 100_000_123_456),
    ],
)
def test_usdc_amounts_are_exact(text: str, units: int) -> None:
    assert usdc_to_base_units(text) == units
    assert usdc_to_base_units(Decimal(text)) == units


def test_dydx3_float_truncation_is_not_reproduced() -> None:
    # Spec §7.3: dydx3 computes int(float(amount) * 1e6); these two lose a base unit there.
    for text, exact in (("1.005", 1_005_000), ("8.2", 8_200_000)):
        assert int(float(text) * 1e6) == exact - 1
        assert usdc_to_base_units(text) == exact


@pytest.mark.parametrize(
    "text",
    [
        "1.0000001",  # 7 decimals
        "-1",
        "+1",
        "1e3",
        "1E-2",
        "NaN",
        "Infinity",
        "1,000",
        "1_000",
        " 1",
        "1.",
        ".5",
        "01",
        "",
        "١٢",  # Arabic-Indic digits, which Decimal() would accept
        "1" * 200,
    ],
)
def test_usdc_amounts_refuse_anything_but_plain_decimals(text: str) -> None:
    with pytest.raises(InputError):
        usdc_to_base_units(text)


@pytest.mark.parametrize(
    "value", [Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), Decimal("1.0000001"), Decimal("1E+200")]
)
def test_usdc_decimal_inputs_are_checked_too(value: Decimal) -> None:
    with pytest.raises(InputError):
        usdc_to_base_units(value)


def test_usdc_refuses_floats() -> None:
    with pytest.raises(InputError):
        usdc_to_base_units(1.5)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**30))
def test_format_usdc_round_trips(units: int) -> None:
    text = format_usdc(units)
    assert usdc_to_base_units(text) == units
    with localcontext() as context:
        context.prec = 80
        assert Decimal(text) * 10**6 == units


def test_format_usdc_examples() -> None:
    assert format_usdc(1_250_500_000) == "1250.5"
    assert format_usdc(7_000_000) == "7"
    assert format_usdc(1) == "0.000001"


# --- asset ids -----------------------------------------------------------------------------------------

# Spec §7.1: USDC address and collateral asset id per network, as printed there.
SPEC_ASSET_IDS = [
    (
        1,
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        "0x02893294412a4c8f915f75892b395ebbf6859ec246ec365c3b1f56f47c3a0a5d",
    ),
    (
        3,
        "0x8707A5bf4C2842d46B31A405Ba41b858C0F876c4",
        "0x02c04d8b650f44092278a7cb1e1028c82025dff622db96c934b611b84cc8de5a",
    ),
    (
        5,
        "0xF7a2fa2c2025fFe64427dd40Dc190d47ecC8B36e",
        "0x03bda2b4764039f2df44a00a9cf1d1569a83f95406a983ce4beb95791c376008",
    ),
    (
        11155111,
        "0x7fC9C132268E0E414991449c003DbdB3E73E2059",
        "0x01e70c509c4c6bfafe8b73d2fc1819444b2c0b435d4b82c0f24addff9565ce25",
    ),
]


@pytest.mark.parametrize(("chain_id", "usdc", "asset_id"), SPEC_ASSET_IDS)
def test_collateral_asset_ids_of_the_four_networks(chain_id: int, usdc: str, asset_id: str) -> None:
    computed = collateral_asset_id(usdc)
    assert format_asset_id(computed) == asset_id
    assert computed == NETWORKS[chain_id].collateral_asset_id
    # The same value by the definition, with eth_abi and eth_utils' keccak.
    info = selector_of("ERC20Token(address)") + eth_abi.encode(["address", "uint256"], [usdc, 1])
    assert int.from_bytes(reference_keccak(info), "big") % 2**250 == computed


def test_asset_id_depends_on_the_quantum() -> None:
    usdc = SPEC_ASSET_IDS[0][1]
    assert collateral_asset_id(usdc, quantum=10) != collateral_asset_id(usdc)
    with pytest.raises(InputError):
        collateral_asset_id(usdc, quantum=0)
