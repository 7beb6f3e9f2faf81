"""The domain of attendance: tickets, protocol numbers, the tunnel (Instagram's 24-hour window), the bot."""
