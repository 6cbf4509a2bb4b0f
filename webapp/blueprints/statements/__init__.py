"""Statement of account: the page, its PDF and Email statement."""
