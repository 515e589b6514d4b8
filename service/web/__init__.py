"""The HTTP layer shared by every domain: problems, request ids, dependencies."""
