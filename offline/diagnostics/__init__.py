"""Checks of the cold machine itself: doctor (hygiene, isolation) and selftest (the reference
vectors)."""
