"""Helpers for testing comicsrv and its plugins: a local HTTP server that
replays recorded responses. Shipped in the package so third-party plugin
authors test against the same tools as the built-ins."""
from .replay import Recorded, ReplayServer

__all__ = ["Recorded", "ReplayServer"]
