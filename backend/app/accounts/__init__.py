"""Customer accounts: opening, renaming, closing, statements."""
