"""Reports for the security department and the council: compliance with the guideline, statistics."""
