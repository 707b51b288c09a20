"""The HTTP face of the agent: thin routes over the services, one JSON error shape."""
