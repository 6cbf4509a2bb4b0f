"""The Staff page (admins)."""
