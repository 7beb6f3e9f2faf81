"""Bots (Robôs) and business hours: their configuration, and the pure rules of webapp.bots.hours."""
