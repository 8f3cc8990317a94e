"""Our hand-rolled EIP-712 encoder against the spec's tables and against eth-account's generic encoder."""

from __future__ import annotations

from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from dydx_airgap.shared.dydx_v3 import eip712
from dydx_airgap.shared.ethereum.keccak import keccak256

DOMAIN_SEPARATORS = {
    1: "e3ea0d0aaace5cf68ca5fce1c4af02705c7cb412bf1e07192676f8cb886f62f3",
    3: "d9bb0aaf44767d9d5cedadfd1d7062f02b35c28aebec58af2f8fefc1fc2ac623",
    5: "7948d4eb652e667580bb9f25fff750e47010f5b131b052fd6f2c9cc1566456f6",
    11155111: "21f1463ce861aedc8bc8eb9181f326a741529f0a19852384df60d0219356893f",
}
DIGESTS = {  # chain id: (dYdX STARK Key, dYdX Onboarding), spec §3.2
    1: (
        "0f9c71ef542bfca920d829ba80e515471e25e671202287713b8eaceef47f12dc",
        "ea8542295a919314b6db804076a90473337ebec28a962ea126aea3f2bcafa679",
    ),
    3: (
        "4164681988aa48c9ef700f80ab418edd88d1ad8cbfda4249ee8edcc7524471b7",
        "f0aee696861ada0126a0d84ad9f26ac65a9012eeeedccc4c9681d7d523b3b99e",
    ),
    5: (
        "ae1353e14f103174748e254577d8bb84eddbce5477bce5dd045c9625ed49deeb",
        "aaaa52c2b4cf4b173f5c9d0478d248a3e6ddfd11d1a1b40657ee097e665f7848",
    ),
    11155111: (
        "82a9f1b143cae8f193c52bc5c3cecf946ef8fd79dbfe296fb16f3501f018f2dd",
        "39e4be6461b4e594c1407ea25722db0e52530d67c4652df922bb12a90ecfac24",
    ),
}


def generic_digest(chain_id: int, message: dict[str, str]) -> bytes:
    signable = encode_typed_data(full_message=eip712.typed_data(chain_id, message))
    return keccak256(b"\x19" + signable.version + signable.header + signable.body)


def test_type_hashes_match_spec() -> None:
    assert keccak256(eip712.ONBOARDING_TYPE_MAINNET.encode()).hex() == (
        "f4a2ac32d38435d8df3b5d504dc1aebaa4e79e98a938a0e2c4e11e4776d67fd2"
    )
    assert keccak256(eip712.ONBOARDING_TYPE_OTHER.encode()).hex() == (
        "50c75e3b61781600afed0a40119abd49091c4e3b90425d71f4204efffd6a39ec"
    )
    assert keccak256(eip712.ETH_PRIVATE_TYPE.encode()).hex() == (
        "5f0125fbd7c0dd572e60e65f5e65bcda93d9d49cb2077de6c97c52de741bcb23"
    )


def test_domain_separators_match_spec() -> None:
    for chain_id, expected in DOMAIN_SEPARATORS.items():
        assert eip712.domain_separator(chain_id).hex() == expected


def test_derivation_digests_match_spec_and_generic_encoder() -> None:
    for chain_id, (stark, onboarding) in DIGESTS.items():
        for action, expected in ((eip712.STARK_KEY_ACTION, stark), (eip712.ONBOARDING_ACTION, onboarding)):
            ours = eip712.onboarding_action_digest(chain_id, action)
            assert ours.hex() == expected
            assert generic_digest(chain_id, eip712.onboarding_action_message(chain_id, action)) == ours


def test_only_sign_on_exists_on_mainnet_only() -> None:
    assert "onlySignOn" in eip712.onboarding_action_message(1, "x")
    for chain_id in (3, 5, 11155111):
        assert "onlySignOn" not in eip712.onboarding_action_message(chain_id, "x")


@settings(max_examples=150, deadline=None)
@given(
    chain_id=st.integers(1, 2**40),
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    path=st.text(max_size=60),
    body=st.text(max_size=60),
    ts=st.text(max_size=30),
)
def test_eth_private_digest_equals_generic_encoder(
    chain_id: int, method: str, path: str, body: str, ts: str
) -> None:
    message = {"method": method, "requestPath": path, "body": body, "timestamp": ts}
    ours = eip712.eth_private_action_digest(chain_id, method, path, body, ts)
    assert generic_digest(chain_id, message) == ours


def test_chain_id_changes_every_digest() -> None:
    digests = {eip712.eth_private_action_digest(c, "POST", "/v3/api-keys", "{}", "t") for c in DIGESTS}
    assert len(digests) == len(DIGESTS)
