"""People: insured persons, special-group tags, family bindings."""
