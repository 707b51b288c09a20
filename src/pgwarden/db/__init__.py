"""PostgreSQL access: the connections the agent owns, and its SQL rendered for the server's
major version. Rows come back as psycopg makes them (or by a row factory the caller gives):
this package knows nothing of the records they become.
"""
