"""The double-entry ledger: journal transactions, entries, holds, posting and verification."""
