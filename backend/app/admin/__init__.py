"""User and account administration."""
