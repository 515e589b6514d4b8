"""What outsiders can check without trusting the database: the signing keys, signed
checkpoints of the audit chain, and the public transparency page (decision 0036)."""
