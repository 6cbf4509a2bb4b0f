"""Sign in, sign out, Change password."""
