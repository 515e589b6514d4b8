"""Users, roles, bearer tokens and jurisdiction by region code."""
