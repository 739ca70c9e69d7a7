"""Procurement (集采) volumes per institution and year: what a procurement prepayment is sized by."""
