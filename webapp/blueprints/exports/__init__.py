"""Export all customers."""
