"""Money movements: deposits, withdrawals, transfers, history."""
