-- purpose: one snapshot of every backend (or only those at work, for the history recorder):
-- its lock wait resolved by pg_blocking_pids(),
-- and, only when some backend waits on a lock, every lock on the objects waited for, read
-- from a single pass over pg_locks, prepared transactions included. Columns are named as
-- the fields of models.Backend (rows are mapped by name); `-- if pg ...` keeps a line only
-- on the majors it names (db/queries.py): leader_pid came with 13, pg_locks.waitstart with 14.
WITH backends AS MATERIALIZED (
    SELECT a.pid,
           a.datname,
           a.usename,
           host(a.client_addr) AS client,
           a.application_name,
           a.backend_type,
           a.state,
           a.wait_event_type,
           a.wait_event,
           a.xact_start,
           a.query_start,
           a.backend_start,
           coalesce(extract(epoch FROM now() - a.query_start), 0)::float8 AS duration,
           textsend(a.query) AS query,
           pg_encoding_to_char(d.encoding) AS encoding,
           a.leader_pid,  -- if pg >= 13
           NULL::int4 AS leader_pid,  -- if pg < 13
           age(a.backend_xmin) AS xmin_age,
           -- pg_blocking_pids() takes the lock manager's locks: call it for lock waiters only
           CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blocked_by
    FROM pg_stat_activity a
    LEFT JOIN pg_database d ON d.oid = a.datid
    WHERE a.pid <> pg_backend_pid()
),
lock_table AS MATERIALIZED (
    SELECT l.*,
           -- locktype decides which columns are set, so skipping nulls stays unambiguous
           concat_ws(',', l.locktype, l.database, l.relation, l.page, l.tuple, l.virtualxid,
                     l.transactionid, l.classid, l.objid, l.objsubid) AS target,
           extract(epoch FROM now() - l.waitstart)::float8 AS wait_duration  -- if pg >= 14
           NULL::float8 AS wait_duration  -- if pg < 14
    FROM pg_locks l
    WHERE EXISTS (SELECT FROM backends WHERE blocked_by IS NOT NULL)
),
waited AS (
    SELECT DISTINCT lt.target
    FROM lock_table lt
    JOIN backends b ON b.pid = lt.pid AND b.blocked_by IS NOT NULL
    WHERE NOT lt.granted
),
-- a prepared transaction's locks have no pid; the lock on its own xid tells whose they are
prepared AS (
    SELECT lt.virtualtransaction, p.gid, p.owner, p.database, p.prepared, p.transaction
    FROM lock_table lt
    JOIN pg_prepared_xacts p ON p.transaction = lt.transactionid
    WHERE lt.pid IS NULL AND lt.locktype = 'transactionid' AND lt.mode = 'ExclusiveLock'
),
related AS (
    SELECT lt.pid,
           lt.virtualtransaction,
           json_build_object(
               'target', lt.target,
               'locktype', lt.locktype,
               'mode', lt.mode,
               'granted', lt.granted,
               -- an oid would turn into a JSON string
               'database', lt.database::int8,
               'database_name', db.datname,
               'relation', lt.relation::int8,
               'local', lt.database IN (0, here.oid),
               'relation_name', CASE WHEN lt.database IN (0, here.oid)
                                     THEN (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                                           FROM pg_class c
                                           JOIN pg_namespace n ON n.oid = c.relnamespace
                                           WHERE c.oid = lt.relation)
                                END,
               'wait_duration', lt.wait_duration
           ) AS lock
    FROM lock_table lt
    JOIN waited w ON w.target = lt.target
    CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) here
    LEFT JOIN pg_database db ON db.oid = lt.database
)
SELECT b.pid, b.datname AS database, b.usename AS "user", b.client, b.application_name,
       b.backend_type, b.state, b.wait_event_type, b.wait_event, b.xact_start, b.query_start,
       b.duration, b.query, b.encoding, b.leader_pid, b.xmin_age, b.blocked_by, rl.locks,
       NULL AS gid, b.backend_start
FROM backends b
LEFT JOIN (SELECT pid, json_agg(lock) AS locks FROM related GROUP BY pid) rl USING (pid)
-- every_backend false (models.Scope.AT_WORK): the resting backends that block no one stay
-- on the server; a NULL state (a background process) rests too, as history/records.py says
WHERE %(every_backend)s::bool
   OR b.state NOT IN ('idle', 'disabled')
   OR b.blocked_by IS NOT NULL
   OR b.pid IN (SELECT unnest(blocked_by) FROM backends)
UNION ALL
-- a prepared transaction that holds a contested lock: pid 0, as pg_blocking_pids() shows it
SELECT 0, d.datname, p.owner, NULL, NULL, 'prepared transaction', 'prepared', NULL, NULL,
       p.prepared, p.prepared, extract(epoch FROM now() - p.prepared)::float8,
       textsend('PREPARE TRANSACTION ' || quote_literal(p.gid)),
       pg_encoding_to_char(d.encoding), NULL, age(p.transaction), NULL,
       json_agg(r.lock), p.gid, p.prepared
FROM related r
JOIN prepared p ON p.virtualtransaction = r.virtualtransaction
LEFT JOIN pg_database d ON d.datname = p.database
WHERE r.pid IS NULL
GROUP BY p.gid, p.owner, p.prepared, p.transaction, d.datname, d.encoding
