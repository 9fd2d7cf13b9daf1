"""Payment cards and their controls."""
