"""The online half of the on-chain steps: prepare unsigned transactions, broadcast signed ones.

The Ethereum key that signs ``registerUser``, ``approve`` and ``deposit`` stays on the cold machine. The relay
gathers the public facts the cold side cannot know (nonce, fees, gas, dYdX's registration signature, the
STARK key and position id), writes them as a ``tx-request`` payload, and later broadcasts the ``signed-tx``
that answers it — after checking that the signed bytes are exactly what was asked for.

Modules, one concept each:

* :mod:`.rpc` — Ethereum JSON-RPC over HTTP with bounded retries and node errors kept verbatim;
* :mod:`.revert` — revert reasons (``Error(string)``, ``Panic(uint256)``) and what they mean here;
* :mod:`.fees` — EIP-1559 fee suggestion;
* :mod:`.chain_reads` — the contract views the relay consults (balances, allowance, ``getEthKey``);
* :mod:`.api_facts` — what the dYdX API says about the account (STARK key, position id, registration);
* :mod:`.tx_journal` — the SQLite record of prepared requests and broadcasts (idempotency by tx hash);
* :mod:`.prepare` — building a ``tx-request``;
* :mod:`.broadcast` — checking a ``signed-tx`` against its request, sending it once, following it.

Nothing here imports the cold signer or handles a private key.
"""
