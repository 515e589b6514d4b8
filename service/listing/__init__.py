"""Black, watch and red lists: entries, due process, triggers, expiry and repair."""
