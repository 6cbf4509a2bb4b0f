"""A ticket's status change."""
