-- purpose: terminate one backend, only if it is still a client backend of this cluster
SELECT pg_terminate_backend(a.pid)
FROM pg_stat_activity a
WHERE a.pid = %(pid)s
  AND a.backend_type = 'client backend'
