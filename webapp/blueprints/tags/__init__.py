"""Tags on the customer page."""
