"""Smart-monitoring worker: post-settlement models and the suspect workflow."""
