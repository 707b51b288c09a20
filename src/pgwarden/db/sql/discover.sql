-- purpose: what the temBoard UI's "add instance" form records of the cluster (GET /discover)
SELECT version(),
       current_setting('port')::int,
       current_setting('block_size')::int,
       -- data_directory is for superusers and pg_read_all_settings only: null for the others
       CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN current_setting('data_directory') END
