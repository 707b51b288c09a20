-- purpose: the agent's backend and when its postmaster started, to find that postmaster in /proc
SELECT pg_backend_pid(), extract(epoch FROM pg_postmaster_start_time())::float8
