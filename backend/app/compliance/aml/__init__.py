"""AML transaction monitoring: rules over each posting and over a period.

- `rules`: the rules themselves, pure functions over a `Posting`, the customer's history
  before it and the `Settings` (no database, no application context), and the necessary
  conditions (`needs_history`) that the window aggregates (`WindowFacts`) are checked against;
- `facts`: what the rules read from the monitoring feed (`aml_postings`): a customer's bounded
  window as rows, or four aggregates over it in one statement, and an account's last posting;
- `monitor`: the run per posting (`observe_movement`, called by the engine observer in
  `compliance.engine_hooks`): the feed row is written and each hit becomes an alert;
- `journal` and `batch`: the same rules over a period of the journal (the RQ batch);
- `ctr`: the currency transaction report lines (customers' cash days over the threshold).
"""
