"""Read-only reports for the bureau (monthly figures the seeds publish)."""
