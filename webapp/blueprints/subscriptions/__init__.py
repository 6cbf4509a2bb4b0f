"""Cancel subscription."""
