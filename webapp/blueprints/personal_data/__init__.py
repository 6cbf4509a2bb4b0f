"""Clear personal data (admins)."""
