"""PostgreSQL access: connections the agent owns, and SQL picked by server version."""
