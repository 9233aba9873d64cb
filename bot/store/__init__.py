"""costbot's state: a SQLite database through sqlite-utils, with versioned migrations."""

from bot.store.database import MIGRATIONS, Store, StoreResponseCache

__all__ = ["MIGRATIONS", "Store", "StoreResponseCache"]
