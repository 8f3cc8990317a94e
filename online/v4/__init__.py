"""The relay's dYdX v4 (dYdX Chain) side: a node's REST API read and written strictly, never a private key.

``node`` is the REST client (account, height, smart-account params, balances, subaccounts, authenticators,
simulate, SYNC broadcast, tx status), ``proto3_json`` the strict readers of its answers, ``codes`` the
one-line explanations of the chain's result codes, ``delivery`` the send-once rule for a signed
transaction, ``fees`` the fee from simulated gas, ``expiry`` the timeout height, and ``trading_key`` what a
trading bot needs once an authenticator is on chain.
"""
