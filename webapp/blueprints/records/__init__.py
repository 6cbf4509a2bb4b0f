"""Records kept on a customer: contacts, addresses, external IDs, activities,
tickets, sales and subscriptions."""
