"""Every decoder that reads bytes from outside, as a fuzz target, with seed inputs.

A target may raise only our typed errors (AirgapError and subclasses); any other exception is a bug (a
traceback a user would see). Shared by the Hypothesis tests in `make test` and the atheris runs of
`make fuzz`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from dydx_airgap.shared.canonical_json import loads_strict
from dydx_airgap.shared.dydx_v3.calldata import decode_calldata
from dydx_airgap.shared.dydx_v3.vectors import parse_vectors
from dydx_airgap.shared.ethereum.rlp import decode as rlp_decode
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction
from dydx_airgap.shared.ethereum.typed_signature import TypedSignature
from dydx_airgap.shared.transport.payload import decode_payload

KIT_VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "dydx-v3.json"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _typed_signature(data: bytes) -> None:
    TypedSignature.from_hex(_text(data))
    if len(data) == 66:
        TypedSignature.from_bytes(data)


def _vault_header(data: bytes) -> None:
    from dydx_airgap.offline.keys.vault import _parse_header

    _parse_header(data)


def _tx_request(data: bytes) -> None:
    """A relay-made transaction request as the cold side reads it: payload, then calldata."""
    payload = decode_payload(data)
    if payload.kind == "tx-request":
        decode_calldata(bytes.fromhex(payload.body["transaction"]["data"][2:]))
    if payload.kind == "signed-tx":
        decode_signed_transaction(bytes.fromhex(payload.body["raw"][2:]))


TARGETS: dict[str, Callable[[bytes], object]] = {
    "payload": decode_payload,
    "canonical-json": lambda d: loads_strict(d, max_bytes=1 << 16),
    "typed-signature": _typed_signature,
    "tx-request": _tx_request,
    "signed-transaction": decode_signed_transaction,
    "rlp": rlp_decode,
    "calldata": decode_calldata,
    "vectors": parse_vectors,
    "vault-header": _vault_header,
}


def _server_response(data: bytes) -> None:
    """What the relay reads from a dYdX API: error bodies, onboarding, recovery and key-list answers."""
    from dydx_airgap.online.relay.api_client import ApiResponse
    from dydx_airgap.online.relay.api_key_calls import parse_api_key_list
    from dydx_airgap.online.relay.responses import parse_onboarding_answer, parse_recovery_answer

    response = ApiResponse(status=400, body=data, headers={})
    response.error_message()
    value = response.json()
    parse_api_key_list(value)
    parse_recovery_answer(value)
    parse_onboarding_answer(value, "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1", 1)


_RPC: list[object] = []


def _node_response(data: bytes) -> None:
    """What the relay reads from an Ethereum node: a JSON-RPC answer (one client, built once)."""
    from dydx_airgap.online.onchain.rpc import EthRpc, parse_rpc_url

    if not _RPC:
        _RPC.append(EthRpc(parse_rpc_url("http://127.0.0.1:1")))
    rpc = _RPC[0]
    assert isinstance(rpc, EthRpc)
    rpc._result("eth_call", 1, data)


def _optional_targets() -> None:
    """Decoders of other packages; registered when importable."""
    try:
        from dydx_airgap.shared.transport.ur.frames import decode_frames

        TARGETS["ur-frames"] = lambda d: decode_frames(_text(d).split())
    except ImportError:
        pass
    TARGETS["server-response"] = _server_response
    TARGETS["node-response"] = _node_response


_optional_targets()


def seeds() -> dict[str, list[bytes]]:
    """Small valid inputs per target, for mutation."""
    from tests.test_tamper_and_crash import sample_payloads

    payloads = sample_payloads()
    vectors = KIT_VECTORS.read_bytes() if KIT_VECTORS.exists() else b"{}"
    sig = (
        json.loads(vectors)["vectors"][0]["onboarding_signature"]
        if KIT_VECTORS.exists()
        else "0x" + "11" * 66
    )
    return {
        "payload": payloads,
        "canonical-json": payloads,
        "typed-signature": [sig.encode(), bytes.fromhex(sig[2:])],
        "tx-request": payloads,
        "signed-transaction": [
            bytes.fromhex(
                "02f86c0180843b9aca00847735940082520894"
                + "11" * 20
                + "8080c080a0"
                + "22" * 32
                + "a0"
                + "33" * 32
            )
        ],
        "rlp": [bytes.fromhex("c88363617483646f67"), b"\x80", b"\xc0"],
        "calldata": [bytes.fromhex("095ea7b3" + "00" * 12 + "11" * 20 + "00" * 31 + "01")],
        "vectors": [vectors],
        "vault-header": [b"DYDX-AIRGAP-VAULT\n{}\n" + b"\x00" * 32],
        "ur-frames": [b"UR:BYTES/HDCXLKAHSSQZWFVSLOFZOXWKRE"],
        "server-response": [
            b'{"errors":[{"msg":"Unauthorized"}]}',
            b"<html>bad gateway</html>",
            b'{"apiKeys":["50fdcaa0-62b8-e827-02e8-a9520d46cb9f"]}',
            b'{"apiKey":{"key":"50fdcaa0-62b8-e827-02e8-a9520d46cb9f","secret":"x","passphrase":"y"},'
            b'"user":{"ethereumAddress":"0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1"},"account":{"starkKey":"1",'
            b'"positionId":"1","id":"x"}}',
        ],
        "node-response": [
            b'{"jsonrpc":"2.0","id":1,"result":"0x01"}',
            b'{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted","data":"0x"}}',
        ],
    }
