"""Institution settlement worker: daily settle, monthly reconcile, year-end clear."""
