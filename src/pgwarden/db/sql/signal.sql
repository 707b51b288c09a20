-- purpose: terminate or cancel one backend, as the action parameter says: every
-- guard and the signal in this one statement, on one read of pg_stat_activity, so a pid
-- reused since the client looked is never signalled unchecked.
-- The row says what the backend was doing (for the audit log and the refusal's reason);
-- signalled is NULL when a guard refused (or the action is neither: that only reads the
-- target, as actions.py does after PostgreSQL refused a signal), else what
-- pg_terminate_backend() or pg_cancel_backend() answered. Columns are named as the fields
-- of rows.signal_from_columns.
WITH target AS MATERIALIZED (
    SELECT a.pid,
           a.backend_type,
           a.usename,
           a.datname,
           a.application_name,
           a.backend_start,
           textsend(a.query) AS query,
           pg_encoding_to_char(d.encoding) AS encoding
    FROM pg_stat_activity a
    LEFT JOIN pg_database d ON d.oid = a.datid
    WHERE a.pid = %(pid)s
)
SELECT t.pid, t.backend_type, t.usename AS "user", t.datname AS database,
       t.application_name AS application, t.backend_start, t.query, t.encoding,
       (SELECT CASE %(action)s::text
                   WHEN 'terminate' THEN pg_terminate_backend(t.pid)
                   WHEN 'cancel' THEN pg_cancel_backend(t.pid)
               END
        -- a backend_type hidden from the agent's role (NULL) fails closed
        WHERE t.backend_type = 'client backend'
          AND t.pid <> pg_backend_pid()
          AND t.pid <> ALL(%(own_pids)s::int4[])
          AND t.usename::text <> ALL(%(protected_roles)s::text[])
          AND t.datname::text <> ALL(%(protected_databases)s::text[])
          AND (%(backend_start)s::timestamptz IS NULL
               OR t.backend_start = %(backend_start)s::timestamptz)) AS signalled
FROM target t
