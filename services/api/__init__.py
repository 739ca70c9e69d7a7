"""HTTP gateway: hospitals, pharmacies, staff (and later the member app) call this."""
