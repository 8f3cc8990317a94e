"""shared/ethereum/transaction.py and shared/ethereum/rlp.py against eth-account 0.14 and pyrlp, and their strictness."""

from __future__ import annotations

import coincurve
import pytest
import rlp as pyrlp
from eth_account import Account
from eth_utils import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from dydx_airgap.shared.errors import FormatError, SignatureError
from dydx_airgap.shared.ethereum import rlp
from dydx_airgap.shared.ethereum.address import address_from_public_key, to_checksum_address
from dydx_airgap.shared.ethereum.transaction import (
    SECP256K1_N,
    AccessListEntry,
    Eip1559Transaction,
    SignedEip1559Transaction,
    decode_signed_transaction,
    decode_signing_payload,
)

KEY = bytes.fromhex(
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
)  # spec §10.1 Ganache key
KEY_ADDRESS = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
DEPOSIT_DATA = bytes.fromhex("2505c3d9") + bytes(range(128))

uint64s = st.integers(min_value=0, max_value=2**64 - 2)
uint256s = st.integers(min_value=0, max_value=2**256 - 1)
access_lists = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.lists(st.binary(min_size=32, max_size=32), max_size=3)),
    max_size=2,
)


def _tx(**overrides: object) -> Eip1559Transaction:
    fields: dict[str, object] = {
        "chain_id": 11155111,
        "nonce": 3,
        "max_priority_fee_per_gas": 1_500_000_000,
        "max_fee_per_gas": 30_000_000_000,
        "gas_limit": 150_000,
        "to": bytes.fromhex("3D05aaCd0fED84f65dE0D91e4621298E702911E2"),
        "value": 0,
        "data": DEPOSIT_DATA,
    }
    fields.update(overrides)
    return Eip1559Transaction(**fields)  # type: ignore[arg-type]


def _eth_account_dict(tx: Eip1559Transaction) -> dict[str, object]:
    result: dict[str, object] = {
        "type": 2,
        "chainId": tx.chain_id,
        "nonce": tx.nonce,
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
        "maxFeePerGas": tx.max_fee_per_gas,
        "gas": tx.gas_limit,
        "value": tx.value,
        "data": tx.data,
        "accessList": [
            {
                "address": to_checksum_address(e.address),
                "storageKeys": ["0x" + k.hex() for k in e.storage_keys],
            }
            for e in tx.access_list
        ],
    }
    if tx.to is not None:
        result["to"] = to_checksum_address(tx.to)
    return result


def _sign(tx: Eip1559Transaction, key: bytes = KEY) -> SignedEip1559Transaction:
    return tx.with_signature(coincurve.PrivateKey(key).sign_recoverable(tx.signing_hash(), hasher=None))


def test_eth_account_transaction_decodes_to_the_same_fields_sender_and_hash() -> None:
    tx = _tx()
    signed = Account.sign_transaction(_eth_account_dict(tx), KEY)
    decoded = decode_signed_transaction(bytes(signed.raw_transaction))
    assert decoded.transaction == tx
    assert decoded.sender_address == KEY_ADDRESS == Account.from_key(KEY).address
    assert decoded.tx_hash == bytes(signed.hash)
    assert (decoded.r, decoded.s) == (signed.r, signed.s)
    assert decoded.y_parity == signed.v  # eth-account reports a type-2 tx's yParity as v
    # Signing our signing hash with coincurve (RFC 6979, like eth-keys) yields the very same bytes.
    assert _sign(tx).raw() == bytes(signed.raw_transaction)


@settings(max_examples=40, deadline=None)
@given(
    chain_id=st.integers(min_value=1, max_value=2**64 - 1),
    nonce=uint64s,
    tip=uint256s,
    fee=uint256s,
    gas=st.integers(min_value=0, max_value=2**63),
    to=st.none() | st.binary(min_size=20, max_size=20),
    value=uint256s,
    data=st.binary(max_size=300),
    access=access_lists,
    key=st.integers(min_value=1, max_value=SECP256K1_N - 1),
)
def test_random_transactions_agree_with_eth_account(
    chain_id: int,
    nonce: int,
    tip: int,
    fee: int,
    gas: int,
    to: bytes | None,
    value: int,
    data: bytes,
    access: list[tuple[bytes, list[bytes]]],
    key: int,
) -> None:
    tx = Eip1559Transaction(
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=fee,
        gas_limit=gas,
        to=to,
        value=value,
        data=data,
        access_list=tuple(AccessListEntry(address, tuple(keys)) for address, keys in access),
    )
    secret = key.to_bytes(32, "big")
    signed = Account.sign_transaction(_eth_account_dict(tx), secret)
    raw = bytes(signed.raw_transaction)
    decoded = decode_signed_transaction(raw)
    assert decoded.transaction == tx
    assert decoded.sender_address == Account.from_key(secret).address
    assert decoded.tx_hash == bytes(signed.hash) == reference_keccak(raw)
    assert decoded.raw() == raw
    assert _sign(tx, secret).raw() == raw
    assert decode_signing_payload(tx.signing_payload()) == tx


def test_contract_creation_has_no_recipient() -> None:
    tx = _tx(to=None, data=b"\x60\x00")
    decoded = decode_signed_transaction(_sign(tx).raw())
    assert decoded.transaction.to is None and decoded.transaction.to_address is None


def _minimal(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _resigned_fields(mutate: int) -> bytes:
    """A raw transaction re-encoded with pyrlp after changing one field, to test the decoder's checks."""
    signed = _sign(_tx())
    fields = pyrlp.decode(signed.raw()[1:])
    if mutate == 0:  # leading zero byte in the nonce
        fields[1] = b"\x00" + fields[1]
    elif mutate == 1:  # high-s twin of the signature, parity flipped: also valid ECDSA, but not EIP-2
        fields[11] = _minimal(SECP256K1_N - signed.s)
        fields[9] = b"" if signed.y_parity else b"\x01"
    elif mutate == 2:  # a legacy-style v in a typed transaction
        fields[9] = b"\x1b"
    elif mutate == 3:
        fields[10] = b""  # r = 0
    elif mutate == 4:
        fields = fields[:11]
    elif mutate == 5:
        fields[5] = b"\x01" * 19  # 19-byte address
    elif mutate == 6:
        fields[8] = [[b"\x01" * 20]]  # access-list entry without its key list
    elif mutate == 7:
        fields[7] = [b"list instead of bytes"]
    return b"\x02" + pyrlp.encode(fields)


@pytest.mark.parametrize(
    ("mutate", "error", "fragment"),
    [
        (0, FormatError, "leading zero"),
        (1, SignatureError, "lower half"),
        (2, SignatureError, "yParity must be 0 or 1"),
        (3, SignatureError, "r is out of range"),
        (4, FormatError, "list of 12 fields"),
        (5, FormatError, "20 bytes or empty"),
        (6, FormatError, "access-list entry"),
        (7, FormatError, "byte string, not a list"),
    ],
)
def test_decoder_refuses_non_canonical_transactions(
    mutate: int, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        decode_signed_transaction(_resigned_fields(mutate))


def test_decoder_refuses_other_transaction_types_and_trailing_bytes() -> None:
    legacy = Account.sign_transaction(
        {"nonce": 0, "gasPrice": 10**9, "gas": 21000, "to": KEY_ADDRESS, "value": 1, "chainId": 1}, KEY
    )
    with pytest.raises(FormatError, match="legacy"):
        decode_signed_transaction(bytes(legacy.raw_transaction))
    access_list_tx = Account.sign_transaction(
        {
            "type": 1,
            "nonce": 0,
            "gasPrice": 10**9,
            "gas": 21000,
            "to": KEY_ADDRESS,
            "value": 1,
            "chainId": 1,
            "accessList": [],
        },
        KEY,
    )
    with pytest.raises(FormatError, match="type 0x01"):
        decode_signed_transaction(bytes(access_list_tx.raw_transaction))
    raw = _sign(_tx()).raw()
    with pytest.raises(FormatError, match="unexpected bytes"):
        decode_signed_transaction(raw + b"\x00")
    with pytest.raises(FormatError):
        decode_signed_transaction(raw[:-1])
    with pytest.raises(FormatError):
        decode_signed_transaction(b"")


SECP256K1_P = 2**256 - 2**32 - 977


def _is_curve_x(x: int) -> bool:
    return pow(x**3 + 7, (SECP256K1_P - 1) // 2, SECP256K1_P) == 1


def test_signature_whose_r_is_no_curve_point_is_refused() -> None:
    fields = pyrlp.decode(_sign(_tx()).raw()[1:])
    no_point = next(x for x in range(1, 100) if not _is_curve_x(x))
    fields[10] = _minimal(no_point)
    with pytest.raises(SignatureError, match="does not recover"):
        decode_signed_transaction(b"\x02" + pyrlp.encode(fields))
    # With an r that is a curve point the signature recovers, but to some unrelated address.
    fields[10] = _minimal(next(x for x in range(1, 100) if _is_curve_x(x)))
    assert decode_signed_transaction(b"\x02" + pyrlp.encode(fields)).sender_address != KEY_ADDRESS


def test_field_ranges_are_checked_when_building() -> None:
    with pytest.raises(FormatError, match="EIP-2681"):
        _tx(nonce=2**64 - 1)
    with pytest.raises(FormatError, match="64-bit"):
        _tx(gas_limit=2**64)
    with pytest.raises(FormatError, match="chain_id 0"):
        _tx(chain_id=0)
    with pytest.raises(FormatError, match="20 bytes"):
        _tx(to=b"\x01" * 21)
    with pytest.raises(FormatError, match="256-bit"):
        _tx(value=-1)
    with pytest.raises(SignatureError, match="65 bytes"):
        _tx().with_signature(b"\x00" * 64)


def test_sender_recovery_matches_the_signing_key() -> None:
    key = coincurve.PrivateKey(b"\x07" * 32)
    signed = _sign(_tx(), key.secret)
    assert signed.sender_address == address_from_public_key(key.public_key.format(compressed=False))


# --- RLP -----------------------------------------------------------------------------------------------


def _nested(depth: int) -> list[object]:
    item: list[object] = []
    for _ in range(depth):
        item = [item]
    return item


rlp_items = st.recursive(
    st.binary(max_size=70), lambda children: st.lists(children, max_size=5), max_leaves=20
)


@given(rlp_items)
def test_rlp_matches_pyrlp_and_round_trips(item: object) -> None:
    encoded = rlp.encode(item)  # type: ignore[arg-type]
    assert encoded == pyrlp.encode(item)
    assert rlp.decode(encoded) == item


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x81\x05", "single byte below 0x80"),
        (b"\xb8\x05hello", "long form used for a length below 56"),
        (b"\xb9\x00\x38" + b"x" * 56, "leading zero byte"),
        (b"\x85abc", "truncated"),
        (b"\xc3\x01\x02", "truncated"),
        (b"\xc2\x83ab", "truncated"),  # child claims more than its parent holds
        (b"\x01\x02", "unexpected bytes"),
        (b"", "truncated"),
        (pyrlp.encode(_nested(40)), "nesting deeper"),
    ],
)
def test_rlp_decoder_is_strict(data: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        rlp.decode(data)


def test_rlp_integers() -> None:
    assert rlp.encode_uint(0) == b""
    assert rlp.encode_uint(1024) == b"\x04\x00"
    assert rlp.decode_uint(b"\x04\x00") == 1024
    with pytest.raises(FormatError, match="leading zero"):
        rlp.decode_uint(b"\x00\x01")
    with pytest.raises(FormatError, match="8 bits"):
        rlp.decode_uint(b"\x01\x00", max_bits=8)
