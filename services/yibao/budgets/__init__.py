"""Budgets per scheme and year: the region's, grown by its policy rate, and each institution's,
drafted from its last three years' fund payments and negotiated (DOMAIN §11)."""
