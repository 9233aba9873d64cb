"""Slack listeners (thin) and Block Kit builders (pure). Imports engines, never bot."""
