"""RQ job functions. Each job builds its own app context and calls the same
services as the routes; see the background-work issue for the worker."""
