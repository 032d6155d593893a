"""Process instances seen as cases: start, load, act, save, and the case page."""
