"""Designated institutions (hospitals, village clinics, pharmacies) and their agreements."""
