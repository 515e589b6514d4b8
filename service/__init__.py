"""Regulatory credit and red/black-list service for elderly care."""
