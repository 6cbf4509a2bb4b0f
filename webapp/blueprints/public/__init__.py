"""The public payment-link page."""
