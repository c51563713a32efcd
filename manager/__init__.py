"""The Tether manager: daemon, API and CLI."""

__version__ = "0.1.0"
