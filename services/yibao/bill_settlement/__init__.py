"""One bill's settlement: the transaction, the locks, the idempotency, the accumulators."""
