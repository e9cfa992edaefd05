"""The Scrappy daemon: one long-running process that owns calls, speech models and storage."""

__version__ = "0.1.0"
