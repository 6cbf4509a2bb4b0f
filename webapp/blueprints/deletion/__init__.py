"""Delete customer (admins)."""
