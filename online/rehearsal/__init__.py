"""Local stand-ins that verify like the real systems, for rehearsals and tests only: the dYdX-v3
compatible API (v3_api) and the local EVM with frozen stand-in contracts (evm). Relay code never imports
this package (an import contract)."""
