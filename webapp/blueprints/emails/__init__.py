"""A customer's recorded emails."""
