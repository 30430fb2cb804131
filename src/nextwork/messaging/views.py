"""Pages of messaging: one-click unsubscribe."""
