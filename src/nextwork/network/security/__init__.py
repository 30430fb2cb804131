"""Authentication hardening: login lockout, two-factor codes, sessions, personal API tokens."""
