"""A public-credit platform speaking protocol v1, with fault injection: a development tool.

It plays the external platform in the sync tests, the sync benchmark and local trials
(`credit-service simulator`), so it lives outside the product package and needs the
development extras (h11, its hand-driven HTTP server).
"""
