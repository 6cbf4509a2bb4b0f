"""The customer's own area: their balance, documents, statements and contacts."""
