"""The Ethereum key and everything derived from it: key sources, the cold key object (the only code that
signs with it), derive, the vault, recover, and batch derivation on every core."""
