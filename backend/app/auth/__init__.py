"""Identity and access: users, roles, credentials, tokens."""
