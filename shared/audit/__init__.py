"""`dydx-audit`: the auditor's commands (verify, report, compare, review). Key-free, so it runs on
any machine; it reads bundles through shared/evidence and imports neither side."""
