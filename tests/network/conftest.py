"""The network tests use the shared cast of tests/conftest.py (area, make_member, people)."""
