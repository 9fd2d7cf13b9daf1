"""Compliance use cases other domains call (kept stable: transactions and auth use these)."""

from app.compliance.alerts import (  # noqa: F401
    get_alert,
    raise_alert,
    raise_transaction_alert,
    resolve_transaction_alerts,
)
from app.compliance.kyc import check_name_change  # noqa: F401
