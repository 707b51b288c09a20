-- purpose: what one backend is doing, for the audit log when PostgreSQL refused to signal it
SELECT a.backend_type,
       a.usename,
       a.datname,
       a.application_name,
       a.backend_start,
       textsend(a.query) AS query,
       pg_encoding_to_char(d.encoding) AS encoding
FROM pg_stat_activity a
LEFT JOIN pg_database d ON d.oid = a.datid
WHERE a.pid = %(pid)s
