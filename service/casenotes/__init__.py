"""What people add to a case besides its steps: comments and evidence files, and the timeline."""
