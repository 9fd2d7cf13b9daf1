"""KYC, AML alerts, reviews, audit trail and regulatory reports."""
