"""Import every domain's seed module so that its seeders register."""

from app.auth import seeds as auth_seeds  # noqa: F401
from app.compliance import seeds as compliance_seeds  # noqa: F401
from app.ledger import seeds as ledger_seeds  # noqa: F401
from app.transactions import seeds as transactions_seeds  # noqa: F401
from app.wealth import brokers as wealth_brokers  # noqa: F401
from app.wealth import seeds as wealth_seeds  # noqa: F401
