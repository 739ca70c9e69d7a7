"""Authentication of callers: institution keys, staff tokens."""
