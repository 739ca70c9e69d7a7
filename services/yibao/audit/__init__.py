"""Append-only, hash-chained audit log: who did what to which record, and when."""

from yibao.audit.chain import Actor, record, verify

__all__ = ["Actor", "record", "verify"]
