-- purpose: cancel one backend's running query, only if it is a client backend of this cluster
SELECT pg_cancel_backend(a.pid)
FROM pg_stat_activity a
WHERE a.pid = %(pid)s
  AND a.backend_type = 'client backend'
