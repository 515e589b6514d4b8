"""The demo province: tools for `make run` and the tests, not what production runs.

``seeding.seed_demo`` loads a generated province (``province``): its institutions,
practitioners and employments (``registry``), a few years of records through their
lifecycle (``records``, ``record_rows``) and the list entries they lead to (``lists``).
"""
