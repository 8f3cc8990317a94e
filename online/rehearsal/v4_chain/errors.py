"""The chain's error results: an ABCI code, its codespace and the raw log, as the REST gateway shows them.

Codes and registered texts are the chain's (cosmos-sdk types/errors, x/accountplus and x/clob errors.go,
spec §B6); an SDK error prints as "<detail>: <registered text>". Where the stand-in has to word a detail the
spec does not give (marked "ours"), it keeps the chain's code and registered text so a client that reads
codes behaves the same.
"""

from __future__ import annotations

SDK = "sdk"
ACCOUNTPLUS = "accountplus"
CLOB = "clob"

# cosmos-sdk types/errors: (code, registered text)
TX_DECODE = (2, "tx parse error")
UNAUTHORIZED = (4, "unauthorized")
INSUFFICIENT_FUNDS = (5, "insufficient funds")
UNKNOWN_REQUEST = (6, "unknown request")
INVALID_ADDRESS = (7, "invalid address")
INVALID_PUBKEY = (8, "invalid pubkey")
UNKNOWN_ADDRESS = (9, "unknown address")
INVALID_COINS = (10, "invalid coins")
OUT_OF_GAS = (11, "out of gas")
MEMO_TOO_LARGE = (12, "memo too large")
INSUFFICIENT_FEE = (13, "insufficient fee")
NO_SIGNATURES = (15, "no signatures supplied")
INVALID_REQUEST = (18, "invalid request")
TX_IN_MEMPOOL = (19, "tx already in mempool")
TX_TIMEOUT_HEIGHT = (30, "tx timeout height")
WRONG_SEQUENCE = (32, "incorrect account sequence")
INTERNAL = (1, "internal")

# x/accountplus
AUTHENTICATOR_NOT_FOUND = (1, "Authenticator is not found")
SMART_ACCOUNT_NOT_ACTIVE = (4, "Smart account is not active")
SIGNATURE_VERIFICATION = (100, "Signature verification failed")
MESSAGE_TYPE_VERIFICATION = (101, "Message type verification failed")
CLOB_PAIR_ID_VERIFICATION = (102, "Clob pair id verification failed")
ALL_OF_VERIFICATION = (104, "AllOf verification failed")
ANY_OF_VERIFICATION = (105, "AnyOf verification failed")

# x/clob
HEIGHT_EXCEEDS_GOOD_TIL_BLOCK = (10, "The next block height is greater than the GoodTilBlock of the message")
GOOD_TIL_BLOCK_EXCEEDS_WINDOW = (
    11,
    "The GoodTilBlock of the message is further than ShortBlockWindow blocks into the future",
)


class ChainError(Exception):
    """A refused transaction or message: what CheckTx or the block result reports."""

    def __init__(self, registered: tuple[int, str], detail: str = "", codespace: str = SDK) -> None:
        code, text = registered
        self.code = code
        self.codespace = codespace
        self.raw_log = f"{detail}: {text}" if detail else text
        super().__init__(self.raw_log)

    def wrap(self, detail: str) -> ChainError:
        """The same error with more context in front (errorsmod.Wrapf of an error that already has one)."""
        wrapped = ChainError((self.code, ""), codespace=self.codespace)
        wrapped.raw_log = f"{detail}: {self.raw_log}"
        return wrapped
