"""Background jobs (daily settle, reconcile, clearing, rollover, monitoring sweeps) as
persisted runs: ops start them, follow their progress and read their result through the API."""
