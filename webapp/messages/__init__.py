"""Messages of a ticket: what customers send (from Meta's webhooks) and what Direto sends (the send path)."""
