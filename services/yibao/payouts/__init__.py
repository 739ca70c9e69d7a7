"""Paying institutions: daily settle (日结算), disbursement orders, prepayments, supplier payments."""
