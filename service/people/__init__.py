"""Persons (officials), parties, organisations, users and their roles."""
