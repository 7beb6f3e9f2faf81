"""The workspace's shared vocabulary and settings: subjects, quick replies and the company settings."""
