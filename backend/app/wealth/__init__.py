"""Linked broker accounts, wealth summary and exchange rates."""
