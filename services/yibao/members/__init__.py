"""The member app (参保人): activation, bearer tokens, own and family data, the member QR code."""
