"""Resident premiums: what is due (premium − subsidy), payments by channel, refunds, subsidy bookings."""
