"""The payment link on the Billing tab (staff side; the public page is public/)."""
