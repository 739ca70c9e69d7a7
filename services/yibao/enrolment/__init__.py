"""Enrolment of a person in a scheme for a coverage year."""
