"""The customer list, Add and Edit customer, the customer page and its tabs."""
