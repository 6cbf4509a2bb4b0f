"""The Audit page (admins)."""
