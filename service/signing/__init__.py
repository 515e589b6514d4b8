"""The service's Ed25519 signing key and compact JWS: what lets outsiders check what it
signed (audit seals and checkpoints, eligibility decisions) without trusting its database.
A leaf package: it knows no table and no route (decision 0036)."""
