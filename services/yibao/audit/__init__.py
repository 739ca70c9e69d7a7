"""Append-only, keyed hash chain of who did what to which record, and when."""

from yibao.audit.chain import Actor, BrokenLink, Verification, record, verify

__all__ = ["Actor", "BrokenLink", "Verification", "record", "verify"]
