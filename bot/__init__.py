"""newsbot: poll news feeds, match people and topics, fold duplicate coverage, send alerts and digests."""

__version__ = "0.1.0"
