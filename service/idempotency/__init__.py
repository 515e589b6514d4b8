"""Stored first answers of POST requests, so a retry with the same key repeats nothing."""
