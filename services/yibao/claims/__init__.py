"""Counter claims (零星报销): manual reimbursement of care a person paid out of pocket."""
