"""Payment reminders on the Billing tab: Do not remind (pause) and Resume reminders."""
