"""The relay core: check exported payloads, submit exactly the signed bytes, journal what happened.

Modules, one concept each:

* :mod:`.target` — which API URL the relay may talk to for a network;
* :mod:`.preflight` — everything verified before any request (kind, network, address, signatures, expiry);
* :mod:`.ladder` — picking the rung of a timestamp ladder that the server will accept now;
* :mod:`.api_client` — HTTP with exact bytes, bounded retries and an account of uncertain outcomes;
* :mod:`.server_clock` — the API's clock as the relay measures it;
* :mod:`.api_key_calls` — HMAC-authenticated reads (list keys, read an account);
* :mod:`.responses` — checks of the API's answers against dYdX's shapes;
* :mod:`.journal` — the SQLite record of submissions and every exchange;
* :mod:`.credentials` — the API credentials the relay holds (0600 file, redacted everywhere else);
* :mod:`.state_dir` — where journal and credentials live, and one relay at a time there;
* :mod:`.submit` — the submission flow, reconciliation after ambiguous failures included;
* :mod:`.timepayload` — the ``time`` payload for the cold side's clock.

Nothing here imports the cold signer (import-linter contract) or handles an Ethereum or STARK private key.
"""
