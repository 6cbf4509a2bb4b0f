"""Thin HTTP layer: parse the request, call a service, render a page or a block."""
