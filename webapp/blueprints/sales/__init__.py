"""Invoice a sale."""
