"""The relay: reads exported payloads, verifies them, talks to the API and the chain. No private keys."""
