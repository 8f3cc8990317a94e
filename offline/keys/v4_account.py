"""The dYdX v4 account of the cold key: onboarding signature → entropy → mnemonic → key → addresses.

Spec §A2: keccak-256(r‖s) of the onboarding signature is BIP-39 entropy; its 24-word English mnemonic,
with an empty passphrase, seeds BIP-32; ``m/44'/118'/0'/0/0`` is the account key; its compressed public
key names the ``dydx1…`` (and ``noble1…``) address. A Cosmos-wallet account enters at the mnemonic step.

BIP-39 and BIP-32 come from offline/keys/hd.py (hashlib and coincurve; tests/offline/test_hd.py proves them
identical to eth-account's HD-wallet helpers, which cost half a second to import and guessed the language of
a phrase, expanded abbreviated words and quoted the whole phrase in their error text).

Every secret (signature, entropy, mnemonic, seed, private key) stays inside :class:`Secret`, so none can
reach a repr, a log line or an exception message; errors raised here never carry secret material and are
raised ``from None`` so a chained third-party message cannot either.
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.shared.dydx_v4.address import dydx_address, noble_address
from dydx_airgap.shared.dydx_v4.onboarding import HD_PATH, digest, entropy_from_signature
from dydx_airgap.shared.dydx_v4.signature import verify_direct
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.secret import Secret

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ENTROPY_LENGTH = 32
MNEMONIC_WORD_COUNTS = (12, 15, 18, 21, 24)


@dataclass(frozen=True)
class V4Account:
    """A derived v4 account: its secrets wrapped, its public parts plain."""

    mnemonic: Secret[str]
    seed: Secret[bytes]
    private_key: Secret[bytes]
    public_key: bytes
    address: str
    noble_address: str
    hd_path: str = HD_PATH


def _check_private_key(raw: bytes) -> None:
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
        raise InputError("a secp256k1 private key is 32 bytes between 1 and the curve order")


def _public_key(private_key: Secret[bytes]) -> bytes:
    import coincurve

    raw = private_key.reveal()
    _check_private_key(raw)
    return bytes(coincurve.PrivateKey(raw).public_key.format(compressed=True))


def mnemonic_from_entropy(entropy: Secret[bytes]) -> Secret[str]:
    """The 24 English words that encode 32 bytes of entropy (BIP-39)."""
    from dydx_airgap.offline.keys import hd

    raw = entropy.reveal()
    if not isinstance(raw, bytes) or len(raw) != ENTROPY_LENGTH:
        raise InputError("v4 entropy is 32 bytes (keccak-256 of the onboarding signature's r‖s)")
    return hd.mnemonic_from_entropy(entropy)


def check_mnemonic(mnemonic: Secret[str]) -> Secret[str]:
    """The phrase in normal form (lowercase, single spaces) if it is a valid English BIP-39 mnemonic."""
    from dydx_airgap.offline.keys import hd

    return hd.check_mnemonic(mnemonic)


def seed_from_mnemonic(mnemonic: Secret[str]) -> Secret[bytes]:
    """BIP-39 seed with the empty passphrase, as every dYdX client uses."""
    from dydx_airgap.offline.keys import hd

    return hd.seed_from_mnemonic(mnemonic, Secret(""))


def private_key_from_seed(seed: Secret[bytes], path: str = HD_PATH) -> Secret[bytes]:
    from dydx_airgap.offline.keys import hd

    raw = hd.private_key_from_seed(seed, path)
    _check_private_key(raw.reveal())
    return raw


def account_from_mnemonic(mnemonic: Secret[str]) -> V4Account:
    """The account of a v4 mnemonic (from the web app's "export secret phrase", or a Cosmos wallet)."""
    phrase = check_mnemonic(mnemonic)
    seed = seed_from_mnemonic(phrase)  # checks the phrase again: cheap beside PBKDF2's 2048 rounds
    private_key = private_key_from_seed(seed)
    public_key = _public_key(private_key)
    return V4Account(
        mnemonic=phrase,
        seed=seed,
        private_key=private_key,
        public_key=public_key,
        address=dydx_address(public_key),
        noble_address=noble_address(public_key),
    )


def account_from_entropy(entropy: Secret[bytes]) -> V4Account:
    return account_from_mnemonic(mnemonic_from_entropy(entropy))


def account_from_onboarding_signature(signature: Secret[bytes]) -> V4Account:
    """The account the web app derives from the wallet's 65-byte "dYdX Chain Onboarding" signature."""
    return account_from_entropy(Secret(entropy_from_signature(signature.reveal())))


def sign_onboarding(eth_private_key: Secret[bytes], eip712_chain_id: int) -> Secret[bytes]:
    """The onboarding signature r‖s‖v (v = 27/28) an Ethereum key makes for ``eip712_chain_id``.

    eth-account signs the digest we compute (``onboarding.digest``): RFC 6979, low-s, as the spec requires
    for the derived account to be reproducible.
    """
    from eth_account import Account

    raw = eth_private_key.reveal()
    _check_private_key(raw)
    signed = Account.unsafe_sign_hash(digest(eip712_chain_id), raw)
    return Secret(bytes(signed.signature))


def sign_direct(private_key: Secret[bytes], sign_doc: bytes) -> bytes:
    """SIGN_MODE_DIRECT signature: ECDSA over SHA-256(sign_doc), 64 bytes r‖s, RFC 6979, low-s.

    libsecp256k1 always produces low-s; the result is verified before it is returned, so a fault in
    signing (or a wrong key) cannot leave the cold machine as a signature the chain would refuse.
    """
    import hashlib

    import coincurve

    raw = private_key.reveal()
    _check_private_key(raw)
    key = coincurve.PrivateKey(raw)
    compact = key.sign_recoverable(hashlib.sha256(sign_doc).digest(), hasher=None)
    signature = bytes(compact[:64])
    verify_direct(bytes(key.public_key.format(compressed=True)), sign_doc, signature)
    return signature
