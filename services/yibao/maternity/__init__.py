"""Maternity allowance (生育津贴): created without application when an employee's delivery is settled."""
