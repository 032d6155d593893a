"""Notifications: in the app and by e-mail, saying only that there is something to do."""
