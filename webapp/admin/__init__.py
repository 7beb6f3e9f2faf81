"""Administration: users and departments (bots, business hours, subjects and settings come with their features)."""
