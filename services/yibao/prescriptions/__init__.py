"""E-prescriptions (电子处方流转, DOMAIN §9): a hospital issues, a pharmacy dispenses once.

This noun alone writes ``prescriptions``; a dispensing is the pharmacy bill's settlement
(``yibao.bill_settlement`` writes ``prescription_dispensings`` in the settle statement and
removes it on cancel, so a cancelled bill gives the prescription back)."""
