"""Live events: what open pages must hear about (new DMs, ticket changes, tunnel notices)."""
