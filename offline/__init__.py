"""The cold-machine signer: holds the Ethereum key and never imports network code."""
