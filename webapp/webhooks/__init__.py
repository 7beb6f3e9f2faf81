"""Meta's webhooks: the endpoint, the durable delivery store, and (next) turning events into domain changes."""
