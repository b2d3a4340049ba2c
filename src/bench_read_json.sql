-- bench_read_json: the reference for `bench ingest` — DuckDB's own JSON reader loading the same
-- NDJSON file into a table with the `events` columns, doing comparable work: typed fields,
-- message → kind, the target path split, a content hash as id, source/format/ingested_at.
CREATE TABLE reference_events AS SELECT * FROM events LIMIT 0;
INSERT INTO reference_events
SELECT
    md5(concat_ws('|', timestamp, f.message, f.session_id, f.client_id, f.client_name, f.client_hostname,
        f.client_user, f.target_type, f.target_name, f.target_namespace, f.http_filter, f.port,
        f.scale_down, f.session_duration)) AS id,
    CAST(timestamp AS TIMESTAMP),
    CASE f.message
        WHEN 'Session Start' THEN 'session_start' WHEN 'Session End' THEN 'session_end'
        WHEN 'Copy Target' THEN 'copy_target' WHEN 'Port Steal' THEN 'port_steal'
        WHEN 'Port Mirror' THEN 'port_mirror' WHEN 'Port Release' THEN 'port_release'
        WHEN 'Session Started' THEN 'session_start' WHEN 'Session Ended' THEN 'session_end'
        WHEN 'Target Copied' THEN 'copy_target' WHEN 'Port Stolen' THEN 'port_steal'
        WHEN 'Port Mirrored' THEN 'port_mirror' WHEN 'Port Released' THEN 'port_release'
    END,
    f.message, level, f.session_id, f.client_id, f.client_name, f.client_hostname, f.client_user,
    f.client_cli_version, f.target,
    coalesce(f.target_type, nullif(split_part(f.target, '/', 1), '')),
    coalesce(f.target_name, nullif(split_part(f.target, '/', 2), '')),
    f.target_namespace,
    nullif(split_part(f.target, '/', 4), ''),
    f.port, f.http_filter, f.scale_down, f.session_duration, f.branch, NULL,
    NULL, NULL, NULL, NULL, NULL,
    'file:bench', 'tracing-json', CAST(current_timestamp AS TIMESTAMP)
FROM read_json('$FILE', format = 'newline_delimited', columns = {
    timestamp: 'VARCHAR', level: 'VARCHAR', target: 'VARCHAR',
    fields: 'STRUCT(message VARCHAR, session_id VARCHAR, client_id VARCHAR, client_name VARCHAR,
        client_hostname VARCHAR, client_user VARCHAR, client_cli_version VARCHAR, target VARCHAR,
        target_type VARCHAR, target_name VARCHAR, target_namespace VARCHAR, port INTEGER,
        http_filter VARCHAR, scale_down BOOLEAN, session_duration DOUBLE, branch VARCHAR)'
}) t(timestamp, level, target, f)
WHERE f.message IN ('Session Start', 'Session End', 'Copy Target', 'Port Steal', 'Port Mirror', 'Port Release',
    'Session Started', 'Session Ended', 'Target Copied', 'Port Stolen', 'Port Mirrored', 'Port Released');
