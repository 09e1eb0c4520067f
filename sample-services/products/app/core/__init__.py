"""Configuration, security, database and observability plumbing."""
