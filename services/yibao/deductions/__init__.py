"""Confirmed amounts an institution owes the fund (violations, penalties, goods paid to a
supplier on its behalf), taken out of its next daily settles. Monitoring books them; the
institution-settlement service takes them (carrying forward what a day cannot cover)."""
