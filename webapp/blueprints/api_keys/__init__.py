"""Settings → API keys (admins): create a key (shown once), list, revoke."""
