"""Feature blocks: posts in, named numeric columns out, cached on disk."""
