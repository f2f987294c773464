"""The fuzz tests' fixtures, defined in support.py (tests/security/test_hostile_input.py uses them
too): the small program ``world`` and cheap password hashing for every test here."""

from tests.security.fuzz.support import _fast_passwords, world  # noqa: F401
