"""Chronic and special outpatient disease recognitions (门慢门特认定, DOMAIN §9); this noun
alone writes ``chronic_recognitions``. The settle path reads them to gate the chronic tier."""
