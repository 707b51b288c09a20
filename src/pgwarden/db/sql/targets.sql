-- purpose: what the backends about to be signalled are doing, for the guards and the audit log
SELECT a.pid,
       a.backend_type,
       a.usename,
       a.datname,
       a.application_name,
       textsend(a.query) AS query,
       pg_encoding_to_char(d.encoding) AS encoding
FROM pg_stat_activity a
LEFT JOIN pg_database d ON d.oid = a.datid
WHERE a.pid = ANY(%(pids)s)
