"""Evidence bundles: what the cold key signed, what the relay did with it, checkable by a third party.

A bundle is a directory (or its deterministic ``.tar``)::

    manifest.json        canonical JSON: format, network, signer, policy, every artefact with its SHA-256
    manifest.sig         the cold key's EIP-191 signature of the manifest's SHA-256 (evidence_message.py)
    cold/...             public-key payloads, signed requests, tx-requests, signed transactions, the log
    relay/receipts.json  what the relay submitted and what the API / chain answered (secrets redacted)
    relay/receipts.sig   the relay's Ed25519 signature of receipts.json's SHA-256

Modules, one concept each: :mod:`.layout` (names, caps), :mod:`.archive` (the deterministic tar),
:mod:`.files` (reading a bundle safely), :mod:`.manifest`, :mod:`.receipts`, :mod:`.log_chain`,
:mod:`.secret_scan`, :mod:`.verify` (every check), :mod:`.review` (decoded fields for people),
:mod:`.report` (the HTML page) and :mod:`.compare` (two cold machines, same inputs).

Everything here is key-free: it verifies, it never signs. The cold key signs in offline/keys/cold_key.py, the
relay's Ed25519 key in online/evidence/receipts.py.
"""
