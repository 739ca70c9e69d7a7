"""月核算 monthly reconcile of an institution's own figures, and DIP monthly pre-settlement."""
