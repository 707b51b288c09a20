-- purpose: what the agent's role may see and do, to say at start-up what it lacks
SELECT current_user::text,
       r.rolsuper,
       pg_has_role('pg_read_all_stats', 'USAGE'),
       pg_has_role('pg_signal_backend', 'USAGE')
FROM pg_roles r
WHERE r.rolname = current_user
