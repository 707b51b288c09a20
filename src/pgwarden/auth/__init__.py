"""Who may use the agent: users and their roles, password checks, sessions, throttling."""
