-- purpose: schema-qualified names of relations of the connected database, by oid, for locks
-- the agent saw from another database
SELECT c.oid::int8, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY(%(oids)s::oid[])
