"""Every field of the kit's reference vectors, one unit at a time, plus the upstream expectations the spec
quotes from dydx-v3-python's and v3-client's own test suites (spec dydx-v3.md §3.3, §4.2, §6.3, §10)."""

from __future__ import annotations

import pytest

from dydx_airgap.offline.diagnostics.selftest import run_selftest
from dydx_airgap.offline.keys.cold_key import (
    ColdKey,
    derive_account,
    legacy_personal_sign_stark_key,
    stark_key_pair,
)
from dydx_airgap.shared.dydx_v3.api_auth import sign_api_request, verify_api_request
from dydx_airgap.shared.dydx_v3.derivation import (
    api_credentials_from_onboarding_signature,
    dydx3_python_stark_private_key,
    stark_key_signature_candidates,
    stark_private_key_from_signature,
)
from dydx_airgap.shared.dydx_v3.eip712 import STARK_KEY_ACTION, onboarding_action_message, personal_sign_text
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature, verify_onboarding_signature
from dydx_airgap.shared.secret import Secret
from tests.conftest import KIT_VECTORS, kit_vectors

VECTORS = kit_vectors()
IDS = [v["name"] for v in VECTORS]
GANACHE_KEY = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"


def h(text: str) -> int:
    return int(text, 16)


def b(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def key_of(v: dict) -> ColdKey:
    return ColdKey(Secret(b(v["eth_private_key"])))


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_address(v: dict) -> None:
    assert key_of(v).address == v["ethereum_address"]


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_stark_key_pair_and_signature(v: dict) -> None:
    account = derive_account(key_of(v), v["network_id"])
    assert account.matches_stark_key_signature(b(v["stark_key_signature"]))
    assert account.stark.private_key.reveal() == h(v["stark_private_key"])
    assert account.stark.public_key == h(v["stark_public_key"])
    assert account.stark.public_key_y == h(v["stark_public_key_y_coordinate"])
    # The pure function on the vector's own signature agrees with the signing path.
    assert stark_private_key_from_signature(b(v["stark_key_signature"])) == h(v["stark_private_key"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_dydx3_python_variant(v: dict) -> None:
    got = dydx3_python_stark_private_key(b(v["stark_key_signature"]))
    assert got == h(v["dydx3_python_stark_private_key"])
    # The two rules disagree exactly when the signature starts with byte 00 (spec §4.3 item 4).
    leading_zero = v["stark_key_signature"].startswith("0x00")
    assert (got != h(v["stark_private_key"])) == leading_zero


def test_leading_zero_vectors_really_differ() -> None:
    lz = [v for v in VECTORS if v["name"].startswith("leading-zero/")]
    assert lz, "the kit should carry leading-zero vectors"
    for v in lz:
        assert h(v["dydx3_python_stark_private_key"]) != h(v["stark_private_key"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_web_app_candidates(v: dict) -> None:
    candidates = stark_key_signature_candidates(b(v["stark_key_signature"]))
    assert ["0x" + c.hex() for c in candidates] == [c["signature"] for c in v["stark_key_candidates"]]
    for sig, expected in zip(candidates, v["stark_key_candidates"], strict=True):
        private = stark_private_key_from_signature(sig)
        assert private == h(expected["stark_private_key"])
        assert stark_key_pair(private).public_key == h(expected["stark_public_key"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_legacy_personal_sign(v: dict) -> None:
    legacy = v["legacy_personal_sign"]
    text, private = legacy_personal_sign_stark_key(key_of(v), v["network_id"])
    assert text == legacy["message"]
    assert private == h(legacy["stark_private_key"])
    assert stark_private_key_from_signature(b(legacy["signature"])) == private


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_onboarding_signature_and_api_key(v: dict) -> None:
    account = derive_account(key_of(v), v["network_id"])
    assert account.onboarding_signature_for_request().to_hex() == v["onboarding_signature"]
    verify_onboarding_signature(v["network_id"], v["onboarding_signature"], v["ethereum_address"])
    creds = api_credentials_from_onboarding_signature(b(v["onboarding_signature"]))
    assert creds.key == v["api_key"]["key"] == account.api.key
    assert creds.secret.reveal() == v["api_key"]["secret"] == account.api.secret.reveal()
    assert creds.passphrase.reveal() == v["api_key"]["passphrase"] == account.api.passphrase.reveal()


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_eth_private_actions(v: dict) -> None:
    key = key_of(v)
    assert v["eth_private_actions"]
    for a in v["eth_private_actions"]:
        sig = key.sign_eth_private_action(
            v["network_id"], a["method"], a["request_path"], a["body"], a["timestamp"]
        )
        assert sig.to_hex() == a["signature"]
        verify_eth_private_signature(
            v["network_id"],
            a["method"],
            a["request_path"],
            a["body"],
            a["timestamp"],
            a["signature"],
            v["ethereum_address"],
        )


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_api_key_requests(v: dict) -> None:
    secret = v["api_key"]["secret"]
    for r in v["api_key_requests"]:
        assert (
            sign_api_request(secret, r["timestamp"], r["method"], r["request_path"], r["body"])
            == r["signature"]
        )
        assert verify_api_request(
            secret, r["timestamp"], r["method"], r["request_path"], r["body"], r["signature"]
        )
        assert not verify_api_request(
            secret, r["timestamp"], r["method"], r["request_path"] + "x", r["body"], r["signature"]
        )


def test_selftest_passes_the_kit_file() -> None:
    results = run_selftest(KIT_VECTORS)
    assert len(results) == len(VECTORS)
    assert all(r.passed for r in results), [(r.name, r.failed_fields) for r in results if not r.passed]
    assert all(len(r.passed_fields) == len(v) + 0 for r, v in zip(results, VECTORS, strict=True))


# --- upstream expectations quoted in the spec (§10.1 and neighbours) ----------------------------------------

UPSTREAM = {
    1: (
        "0x170d807cafe3d8b5758f3f698331d292bf5aeb71f6fd282f0831dee094ee891",
        "0x39d88860b99b1809a63add01f7dfa59676ae006bbcdf38ff30b6a69dcf55ed3",
        "0x2bdd58a2c2acb241070bc5d55659a85bba65211890a8c47019a33902aba8400",
        (
            "50fdcaa0-62b8-e827-02e8-a9520d46cb9f",
            "rdHdKDAOCa0B_Mq-Q9kh8Fz6rK3ocZNOhKB4QsR9",
            "12_1LuuJMZUxcj3kGBWc",
        ),
    ),
    3: (
        "0x50505654b282eb3debadddeddfa1bc76545a6837dcd59d7d41f6a282a4bbccc",
        "0x35e23a936e596969a6b3131cfccbd18b71779f28276d30e8215cd0d3e9252c2",
        "0x557d1a1be389d9921b9d16415eac12bd276b05e2564c4b30a7730ace13a0e19",
        (
            "9c1d91a5-0a30-1ed4-2d3d-b840a479b965",
            "hHYEswFe5MHMm8gFb81Jas9b7iLQUicsVv5YBRMY",
            "9z5Ew7m2DLQd87Xlk7Hd",
        ),
    ),
    5: (
        "0x1019187d91b8effe153ab1932930e27c8d01c56ad9cc937c777633c0ffc5a7e",
        "0x3ea05770b452df14427b3f07ff600faa132ecc3d7643275042cb4da6ad99972",
        "0x7310e2ab01978806a6fb6e51a9ee1c9a5c5117c63530ad7dead2b9f72094cc3",
        (
            "1871d1ba-537c-7fe8-743c-172bcd4ae5c6",
            "tQxclqFWip0HL4Q-xkwZb_lTfOQz4GD5CHHpYzWa",
            "B8JFepDVn8eixnor7Imv",
        ),
    ),
    11155111: (
        "0x2d21c094fedea3e72bef27fbcdceaafd34e88fc4b7586859e26e98b21e63a60",
        "0x15e2e074a7ac9e78edb2ee9f11a0c0c0a080c79758ab81616eea9c032c75265",
        "0x360408546b64238f80d7a8a336d7304d75f122a7e5bb22cbb7a14f550eac5a8",
        (
            "30cb6046-8f4a-5677-a19c-a494ccb7c7e5",
            "4Yd_6JtH_-I2taoNQKAhkCifnVHQ2Unue88sIeuc",
            "Db1GQK5KpI_qeddgjF66",
        ),
    ),
}


@pytest.mark.parametrize("chain_id", sorted(UPSTREAM))
def test_upstream_ganache_expectations(chain_id: int) -> None:
    private, public, y, (key, secret, passphrase) = UPSTREAM[chain_id]
    account = derive_account(ColdKey(Secret(b(GANACHE_KEY))), chain_id)
    assert account.address == "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
    assert account.stark.private_key.reveal() == h(private)
    assert (account.stark.public_key, account.stark.public_key_y) == (h(public), h(y))
    assert (account.api.key, account.api.secret.reveal(), account.api.passphrase.reveal()) == (
        key,
        secret,
        passphrase,
    )


def test_upstream_mainnet_onboarding_signature() -> None:
    account = derive_account(ColdKey(Secret(b(GANACHE_KEY))), 1)
    assert account.onboarding_signature_for_request().to_hex() == (
        "0x0a30eea502e9805b95bd432fa1952e345dda3e9f72f7732aa00775865352e2b54929803c221e9e63861e4604fbc796a4e1a6"
        "ca23d49452338a3d7602aaf6d1841c00"
    )


def test_upstream_eth_private_vector_without_leading_slash() -> None:
    sig = ColdKey(Secret(b(GANACHE_KEY))).sign_eth_private_action(
        1, "POST", "v3/test", "{}", "2021-01-08T10:06:12.500Z"
    )
    assert sig.to_hex() == (
        "0x3ec5317783b313b0acac1f13a23eaaa2fca1f45c2f395081e9bfc20b4cc1acb17e3d755764f37bf13fa62565c9cb50475e0a98"
        "7ab0afa74efde0b3926bb7ab9d1b00"
    )


def test_upstream_personal_sign_onboarding_vector_verifies() -> None:
    # v3-client's personal-sign (type 03) vector over the mainnet onboarding text (spec §4.2).
    sig = (
        "0x12311bcc0280fe24e529bd16fa770a3eddb90ebca9f7d06e9ba11928f1d14dc87c2f6e5409137150feeaf37319ae21609967885"
        "28248090b56896d74d3ce5c3b1b03"
    )
    verify_onboarding_signature(1, sig, "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1")
    assert personal_sign_text(1, onboarding_action_message(1, "dYdX Onboarding")) == (
        '{\n  "name": "dYdX",\n  "version": "1.0",\n  "chainId": 1,\n  "action": "dYdX Onboarding",\n'
        '  "onlySignOn": "https://trade.dydx.exchange"\n}'
    )
    assert STARK_KEY_ACTION == "dYdX STARK Key"


def test_upstream_hmac_vector() -> None:
    secret = "qnjyWWTHMY5SFqmNpJga_fXL-3lwOqUIpmz2izlV"
    path = "/v3/api-keys?ethereumAddress=0xE5714924C8C5c732F92A439075C8211eB0611aaC"
    ts = "2021-02-01T19:38:54.508Z"
    expected = "jGElyQttdQDNqlRu5CpCtfVEYcikknzXWsOjKJAcTtI="
    assert verify_api_request(secret, ts, "GET", path, "", expected)  # v3-client emits standard base64
    assert sign_api_request(secret, ts, "GET", path, "").replace("-", "+").replace("_", "/") == expected


def test_upstream_key_pair_from_data_zero() -> None:
    from dydx_airgap.shared.ethereum.keccak import keccak256

    private = int.from_bytes(keccak256(b"0"), "big") >> 5
    assert private == h("0x2242959533856f2a03f3c7d9431e28ef4fe5cb2a15038c37f1d76d35dc508b")
    pair = stark_key_pair(private)
    assert pair.public_key == h("0x69a33d37101d7089b606f92e4b41553c237a474ad9d6f62eeb6708415f98f4d")
    assert pair.public_key_y == h("0x717e78b98a53888aa7685b91137fa01b9336ce7d25f874dbfb8d752c6ac610d")
