"""nextwork: a self-hosted organizing platform for organisations that want a voice in law-making."""

__version__ = "0.1.0"
