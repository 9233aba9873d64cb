"""The composition root: settings, app factory, store, scheduler, CLI and the demo sandbox."""
