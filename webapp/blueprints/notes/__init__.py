"""Notes on the customer page."""
