"""The sealed handoff of trading secrets to the trading host (opt-in): `dydx-offline handoff`."""
