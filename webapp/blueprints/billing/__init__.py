"""Money on the customer page: entries, one time charges, invoices, credit notes."""
