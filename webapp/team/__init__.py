"""The team: users, their roles and departments, and who may see what."""
