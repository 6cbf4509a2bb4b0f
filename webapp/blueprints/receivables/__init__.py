"""Receivables: the aging report of open invoices, and its CSV."""
