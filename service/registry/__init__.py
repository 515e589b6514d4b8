"""Institutions, practitioners and the employment links between them."""
