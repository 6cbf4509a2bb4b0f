"""Customers → Import: CSV import of customers (admins)."""
