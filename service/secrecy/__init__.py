"""Secrecy marks on form fields and the release (utlämnande) of a case with them masked."""
