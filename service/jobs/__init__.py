"""Background jobs: queued in the database, claimed by workers, retried with back-off."""
