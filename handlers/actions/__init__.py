"""Button and modal listeners."""
