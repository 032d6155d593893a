"""The API for other systems of the city (first: the alarm centre)."""
