"""The thin Flask layer: pages that present each user task to the right role."""
