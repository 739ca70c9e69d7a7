"""Policy: the versioned numbers (deductibles, ratios, caps, thresholds) of a pooling region."""
