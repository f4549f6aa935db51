"""The Unna prevention-chain hub: consent-aware routing of pseudonymised agency events."""

__version__ = "0.1.0"
