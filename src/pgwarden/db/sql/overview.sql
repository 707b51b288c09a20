-- purpose: the server at a glance, in one cheap query beside each snapshot: version, start,
-- connection slots, client connections by state, cluster-wide transaction and block counters,
-- and the oldest prepared transaction (pg_stat_activity does not list those).
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       pg_postmaster_start_time() AS started_at,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       -- PostgreSQL 16+; NULL before
       current_setting('reserved_connections', true)::int AS reserved,
       (SELECT json_object_agg(s.state, s.n)
        FROM (SELECT coalesce(a.state, 'unknown') AS state, count(*) AS n
              FROM pg_stat_activity a
              WHERE a.backend_type = 'client backend'
              GROUP BY 1) s) AS by_state,
       d.commits, d.rollbacks, d.blocks_hit, d.blocks_read,
       p.gid AS oldest_prepared_gid,
       p.prepared AS oldest_prepared_at
FROM (SELECT sum(xact_commit)::int8 AS commits,
             sum(xact_rollback)::int8 AS rollbacks,
             sum(blks_hit)::int8 AS blocks_hit,
             sum(blks_read)::int8 AS blocks_read
      FROM pg_stat_database) d
LEFT JOIN LATERAL (SELECT gid, prepared FROM pg_prepared_xacts ORDER BY prepared LIMIT 1) p ON true
