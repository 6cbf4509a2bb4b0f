"""The customer area's sign-in, sign-out, own password, invite and reset links."""
