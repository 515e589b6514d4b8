"""The transactional outbox: messages written with the change, delivered later, once."""
