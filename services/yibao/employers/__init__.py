"""Employers and the employee scheme's monthly contributions (职工医保缴费)."""
