"""The fund's double-entry ledger: every movement of money between a fund, an institution,
the bank and suppliers, as immutable postings whose balances are derived, never stored."""
