"""A local stand-in for the dYdX v3 REST API (shut down in 2024), to rehearse and test the relay.

Endpoints (dYdX's request and response shapes; amounts are decimal strings):

=======================================  ==============  ===================================================
endpoint                                 authentication  answer
=======================================  ==============  ===================================================
``GET /v3/time``                         none            ``{iso, epoch}``
``GET /v3/users/exists?ethereumAddress`` none            ``{exists}``
``POST /v3/onboarding``                  onboarding sig  ``{apiKey, user, account}`` (user, account 0 and
                                                         the default API key, in one transaction)
``POST /v3/api-keys``                    Ethereum key    ``{apiKey: {key, passphrase, secret}}`` (random)
``DELETE /v3/api-keys?apiKey=K``         Ethereum key    ``{apiKey: K}``
``GET /v3/recovery``                     Ethereum key    ``{starkKey, positionId, equity, freeCollateral,
                                                         quoteBalance, positions}``
``GET /v3/api-keys``                     API key (HMAC)  ``{apiKeys: [key, ...]}``
``GET /v3/registration``                 API key         ``{signature}``: the operator's 65-byte r‖s‖v over
                                                         keccak("UserRegistration:" ‖ address ‖ starkKey)
``GET /v3/users``                        API key         ``{user}``
``PUT /v3/users``                        API key         ``{user}`` after setting any of email, username,
                                                         isSharingUsername, isSharingAddress, userData (a
                                                         JSON object as a string), country, languageCode
``POST /v3/accounts``                    API key         ``{account}`` (next account number)
``GET /v3/accounts``                     API key         ``{accounts: [...]}``
``GET /v3/accounts/{id}``                API key         ``{account}``
``GET /v3/local/operator``               none            ``{address}`` of the registration signer
``GET /v3/local/stats``                  none            received/accepted/rejected counts per request kind,
                                                         and the faults injected
=======================================  ==============  ===================================================

Verification follows dYdX (spec dydx-v3.md §3, §6): EIP-712 signatures for the configured chain id must
recover to ``DYDX-ETHEREUM-ADDRESS`` (type bytes 00, 01 and 03); ``DYDX-TIMESTAMP`` within ±30 s of the
server clock; HMAC-SHA256 in either base64 alphabet over timestamp ‖ METHOD ‖ raw path+query ‖ body (see
:mod:`.auth` for which body strings count); ``DYDX-PASSPHRASE`` must open the key's sealed secret.

Error answers are ``{"errors": [{"msg": ...}]}`` (with ``param``/``location``/``value`` for bad input):

====== ======================================================== =============================================
status msg                                                      when
====== ======================================================== =============================================
400    ``Invalid signature for onboarding request`` (dYdX)      onboarding signature missing, malformed, for
                                                                another chain id or another address
400    ``Invalid value`` (dYdX; ``param`` names the field)      malformed address, timestamp, account number,
                                                                country, missing starkKey / apiKey; a PUT
                                                                /v3/users field that is unknown or malformed
                                                                (our rules: email a@b.c, username 1-32 of
                                                                A-Z a-z 0-9 _ -, languageCode xx or xx-YY)
400    ``starkKey ...`` / ``... not a point on the STARK curve``  unusable STARK public key (``param`` set)
400    ``Request body must be a JSON object``                   body is not a JSON object
400    ``A user can have at most 20 API keys``                  21st key
400    ``Cannot delete the last API key of a user``             deleting the only key
401    ``Unauthorized`` (dYdX)                                  no auth header, wrong passphrase, bad HMAC
401    ``API key not found`` (dYdX)                             unknown ``DYDX-API-KEY``
401    ``Invalid signature for Ethereum-key request``           eth-private signature does not verify
401    ``DYDX-TIMESTAMP must be within 30 seconds of the server time``
404    ``User not found``                                       valid Ethereum signature, no such user
404    ``Account not found``                                    account id / number not the caller's
404    ``API key not found``                                    deleting a key the user does not have
404    ``Not Found``, 405 ``Method Not Allowed``                 unknown route or method
409    ``User already exists``                                  second onboarding of an address
409    ``starkKey is already registered to another user``       a STARK key belongs to one address only
413    ``Request body is too large``                            body over 64 KiB
500    ``Internal Server Error``                                a bug (logged by exception type only)
====== ======================================================== =============================================

Fault injection (:mod:`.faults`) is off unless a :class:`FaultPlan` is passed. Given the local chain's
deployment file, :mod:`.chain_follower` turns ``LogUserRegistered`` into ``isRegistered: true`` and
``LogDeposit`` into the account's ``quoteBalance``/``equity``.
"""

from __future__ import annotations

from dydx_airgap.online.rehearsal.v3_api.app import create_app
from dydx_airgap.online.rehearsal.v3_api.faults import Fault, FaultPlan, ScheduledFault, parse_fault_spec
from dydx_airgap.online.rehearsal.v3_api.registration import registration_digest
from dydx_airgap.online.rehearsal.v3_api.server import (
    DEFAULT_CHAIN_ID,
    DEFAULT_PORT,
    LocalApiHandle,
    serve,
    start_local_api,
)
from dydx_airgap.online.rehearsal.v3_api.store import Store

__all__ = [
    "DEFAULT_CHAIN_ID",
    "DEFAULT_PORT",
    "Fault",
    "FaultPlan",
    "LocalApiHandle",
    "ScheduledFault",
    "Store",
    "create_app",
    "parse_fault_spec",
    "registration_digest",
    "serve",
    "start_local_api",
]
