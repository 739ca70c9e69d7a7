"""Dramatiq on Redis: broker construction and the outbox relay."""
