"""Instagram connections: the wizard, Facebook Login, health and reauthorization."""
