"""Retention (gallring): rules per record type, the disposal job, disposal records and legal holds."""
