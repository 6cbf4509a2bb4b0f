"""Settings (admins): tax classes and legal entities."""
