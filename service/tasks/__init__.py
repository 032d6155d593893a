"""The human-task inbox: one row per user task, queried without loading a workflow."""
