"""Database plumbing: declarative base, engine factory, unit of work and the outbox table it writes."""
