"""Bulk actions on the customer list."""
