"""Integration events between services: schemas, the transactional outbox and the inbox."""
