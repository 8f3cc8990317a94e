"""The only place the Ethereum private key signs anything.

The key is wrapped in :class:`ColdKey`, whose signing primitive is private. Public entry points build the
EIP-712 digest themselves from a fixed struct (eth-private action, or the two derivation actions inside
:func:`derive_account`), so no caller can hand in an arbitrary digest — in particular nothing outside this
module can obtain a "dYdX STARK Key" signature, which *is* the STARK private key's seed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dydx_airgap.shared.dydx_v3.derivation import (
    ApiCredentials,
    api_credentials_from_onboarding_signature,
    stark_private_key_from_signature,
)
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    eth_private_action_digest,
    onboarding_action_digest,
    onboarding_action_message,
    personal_sign_text,
)
from dydx_airgap.shared.dydx_v3.variants import (
    DEFAULT_VARIANT,
    StarkKeyVariant,
    stark_private_key_for_variant,
)
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.address import address_from_public_key
from dydx_airgap.shared.ethereum.eip191 import personal_message_hash
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction, SignedEip1559Transaction
from dydx_airgap.shared.ethereum.typed_signature import SignatureType, TypedSignature
from dydx_airgap.shared.secret import Secret

if TYPE_CHECKING:
    from dydx_airgap.offline.keys.v4_account import V4Account
    from dydx_airgap.shared.stark.fixed_base import GeneratorTable

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class ColdKey:
    """An Ethereum private key held in memory on the cold machine."""

    __slots__ = ("_key", "address", "source")

    def __init__(self, private_key: Secret[bytes], source: str = "key") -> None:
        import coincurve

        raw = private_key.reveal()
        if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
            raise InputError("an Ethereum private key is 32 bytes between 1 and the curve order")
        self._key = coincurve.PrivateKey(raw)
        self.address = address_from_public_key(self._key.public_key.format(compressed=False))
        self.source = source

    def __repr__(self) -> str:
        return f"ColdKey(address={self.address}, source={self.source})"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("keys are not picklable")

    def _sign(self, message_hash: bytes) -> bytes:
        """r ‖ s ‖ v (27/28), RFC 6979 deterministic, low-s (libsecp256k1 guarantees both)."""
        compact = self._key.sign_recoverable(message_hash, hasher=None)
        return compact[:64] + bytes([compact[64] + 27])

    def _typed(self, message_hash: bytes, sig_type: SignatureType) -> TypedSignature:
        return TypedSignature.from_bytes(self._sign(message_hash) + bytes([sig_type]))

    def sign_transaction(self, transaction: Eip1559Transaction) -> SignedEip1559Transaction:
        """Sign an EIP-1559 transaction. Its signing hash starts from the 0x02 type byte, so it can never be
        an EIP-712 (0x1901) or EIP-191 (0x19) digest: this is not a path to a derivation signature."""
        compact = self._key.sign_recoverable(transaction.signing_hash(), hasher=None)
        signed = transaction.with_signature(compact)
        if signed.sender_address != self.address:
            raise InputError("internal check failed: the signed transaction does not recover to this key")
        return signed

    def sign_evidence_manifest(self, chain_id: int, manifest_sha256: bytes) -> TypedSignature:
        """EIP-191 personal_sign of the fixed, domain-separated evidence text (shared/evidence/message.py);
        returned as r ‖ s ‖ v ‖ 03. Only a 32-byte manifest digest goes in, never caller text."""
        from dydx_airgap.shared.evidence.message import manifest_message_hash

        return self._typed(
            manifest_message_hash(chain_id, self.address, manifest_sha256), SignatureType.PERSONAL
        )

    def sign_payload_origin(self, chain_id: int, content_sha256: bytes) -> TypedSignature:
        """EIP-191 signature of the fixed "dydx-airgap payload v1" text (shared/transport/origin.py)
        naming a payload's content digest: how the relay and auditors know an exported payload is the
        cold key's, unaltered."""
        from dydx_airgap.shared.transport.origin import origin_message_hash

        return self._typed(
            origin_message_hash(chain_id, self.address, content_sha256), SignatureType.PERSONAL
        )

    def origin_signer(self) -> Callable[[int, str, bytes], str]:
        """The signer `new_payload` needs for the kinds this machine exports."""

        def sign(chain_id: int, address: str, content_sha256: bytes) -> str:
            if address != self.address:
                raise InputError("a payload for another address cannot be signed with this key")
            return self.sign_payload_origin(chain_id, content_sha256).to_hex()

        return sign

    def sign_eth_private_action(
        self, chain_id: int, method: str, request_path: str, body: str, timestamp: str
    ) -> TypedSignature:
        """Sign a dYdX Ethereum-key REST call (EIP-712, type byte 00, as dydx-v3-python does)."""
        digest = eth_private_action_digest(chain_id, method, request_path, body, timestamp)
        return self._typed(digest, SignatureType.NO_PREPEND)


@dataclass(frozen=True)
class StarkKeyPair:
    private_key: Secret[int] = field(repr=False)
    public_key: int
    public_key_y: int


def stark_key_pair(private_key: int, table: GeneratorTable | None = None) -> StarkKeyPair:
    """The pair of ``private_key``; ``table`` (shared/stark/fixed_base.py) speeds up k·G in large batches and
    gives the same point."""
    if table is not None:
        x, y = table.multiply(private_key)
    else:
        from dydx_airgap.shared.stark import private_key_to_ec_point_on_stark_curve

        x, y = private_key_to_ec_point_on_stark_curve(private_key)
    return StarkKeyPair(private_key=Secret(private_key), public_key=x, public_key_y=y)


@dataclass(frozen=True)
class DerivedAccount:
    """Everything dYdX derived from one Ethereum key on one network, by one key variant.

    ``variant`` chooses which STARK key ``stark`` is (shared/dydx_v3/variants.py); the API credentials
    come from the EIP-712 onboarding signature whatever the variant (only its r and s matter).
    """

    address: str
    chain_id: int
    stark: StarkKeyPair
    api: ApiCredentials
    # The derivation signatures stay inside this object: compared, never revealed (but see below).
    _stark_key_signature: Secret[bytes] = field(repr=False)
    _onboarding_signature: Secret[bytes] = field(repr=False)
    variant: StarkKeyVariant = DEFAULT_VARIANT
    #: The personal_sign "dYdX STARK Key" signature; present only for the legacy variant, which hashes it.
    _personal_stark_key_signature: Secret[bytes] | None = field(default=None, repr=False)

    def matches_stark_key_signature(self, expected: bytes) -> bool:
        return hmac.compare_digest(self._stark_key_signature.reveal(), expected)

    def onboarding_signature_for_request(self) -> TypedSignature:
        """The POST /v3/onboarding signature. dYdX made it static *and* the seed of the default API
        credentials: whoever holds it can compute them. Only `sign onboarding` may call this."""
        return TypedSignature.from_bytes(self._onboarding_signature.reveal())

    def stark_key_variants(self) -> list[tuple[StarkKeyVariant, int]]:
        """(variant, STARK private key) for every variant the EIP-712 signature alone gives: all but the
        legacy personal-sign one, which needs a second signature (:func:`legacy_personal_sign_stark_key`)."""
        sig = self._stark_key_signature.reveal()
        return [
            (variant, stark_private_key_for_variant(variant, sig))
            for variant in StarkKeyVariant
            if not variant.needs_personal_signature
        ]


def _personal_stark_key_signature(key: ColdKey, chain_id: int) -> TypedSignature:
    text = personal_sign_text(chain_id, onboarding_action_message(chain_id, STARK_KEY_ACTION))
    return key._typed(personal_message_hash(text.encode("utf-8")), SignatureType.PERSONAL)


def derive_account(
    key: ColdKey,
    chain_id: int,
    variant: StarkKeyVariant = DEFAULT_VARIANT,
    table: GeneratorTable | None = None,
) -> DerivedAccount:
    """Sign both derivation actions and derive the variant's STARK key pair and default API credentials
    (``table``: see :func:`stark_key_pair`)."""
    stark_sig = key._typed(onboarding_action_digest(chain_id, STARK_KEY_ACTION), SignatureType.NO_PREPEND)
    onboarding_sig = key._typed(
        onboarding_action_digest(chain_id, ONBOARDING_ACTION), SignatureType.NO_PREPEND
    )
    stark_bytes = stark_sig.to_bytes()
    onboarding_bytes = onboarding_sig.to_bytes()
    personal = (
        Secret(_personal_stark_key_signature(key, chain_id).to_bytes())
        if variant.needs_personal_signature
        else None
    )
    private = stark_private_key_for_variant(
        variant, stark_bytes, personal.reveal() if personal is not None else None
    )
    return DerivedAccount(
        address=key.address,
        chain_id=chain_id,
        stark=stark_key_pair(private, table),
        api=api_credentials_from_onboarding_signature(onboarding_bytes),
        _stark_key_signature=Secret(stark_bytes),
        _onboarding_signature=Secret(onboarding_bytes),
        variant=variant,
        _personal_stark_key_signature=personal,
    )


def all_variant_stark_private_keys(key: ColdKey, chain_id: int) -> list[tuple[StarkKeyVariant, int]]:
    """(variant, STARK private key) for all six variants of one key on one network: the two "dYdX STARK
    Key" signatures (EIP-712 and personal_sign) are made and consumed here and go nowhere else."""
    from dydx_airgap.shared.dydx_v3.variants import ALL_VARIANTS, all_variant_private_keys

    typed = key._typed(onboarding_action_digest(chain_id, STARK_KEY_ACTION), SignatureType.NO_PREPEND)
    personal = _personal_stark_key_signature(key, chain_id)
    privates = all_variant_private_keys(typed.to_bytes(), personal.to_bytes())
    return list(zip(ALL_VARIANTS, privates, strict=True))


def legacy_personal_sign_stark_key(key: ColdKey, chain_id: int) -> tuple[str, int]:
    """The legacy (personal_sign) STARK key variant: returns (signed text, STARK private key)."""
    text = personal_sign_text(chain_id, onboarding_action_message(chain_id, STARK_KEY_ACTION))
    sig = _personal_stark_key_signature(key, chain_id)
    return text, stark_private_key_from_signature(sig.to_bytes())


def legacy_personal_sign_signature_matches(key: ColdKey, chain_id: int, expected: bytes) -> bool:
    return hmac.compare_digest(_personal_stark_key_signature(key, chain_id).to_bytes(), expected)


@dataclass(frozen=True)
class V4Derivation:
    """The dYdX v4 account of an Ethereum key, with the onboarding signature it came from.

    The signature is the account (keccak(r‖s) is its entropy): it stays wrapped, and only the vault
    writer (offline/keys/v4_derive.py) reveals it, to store it encrypted.
    """

    account: V4Account
    eip712_chain_id: int
    onboarding_signature: Secret[bytes] = field(repr=False)


def derive_v4_account(key: ColdKey, eip712_chain_id: int) -> V4Derivation:
    """Sign the "dYdX Chain Onboarding" typed data of one environment and derive its v4 account.

    The digest is built here from the fixed template (shared/dydx_v4/onboarding.py), never taken from a
    caller, so this is no path to signing anything else.
    """
    from dydx_airgap.offline.keys.v4_account import account_from_onboarding_signature
    from dydx_airgap.shared.dydx_v4.onboarding import digest as v4_onboarding_digest

    signature = Secret(key._sign(v4_onboarding_digest(eip712_chain_id)))
    return V4Derivation(account_from_onboarding_signature(signature), eip712_chain_id, signature)
