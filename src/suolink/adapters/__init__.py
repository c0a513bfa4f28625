"""Framework adapters: they translate requests to the core and Decisions back, nothing more."""
