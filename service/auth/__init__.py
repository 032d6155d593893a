"""Login, sessions and the one policy module that answers every access question."""
