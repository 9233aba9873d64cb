"""The composition root: settings, app factory, store, the acting lease, scheduler, CLI and
the demo sandbox."""
