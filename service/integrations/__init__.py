"""Talking to the world outside: the outbox and what delivers from it."""
