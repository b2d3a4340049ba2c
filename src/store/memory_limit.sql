-- memory_limit: how much memory DuckDB's buffer pool may hold for this process (`ingest`'s
-- `--memory-limit`). Blocks already written are evicted first; what doesn't fit spills to the
-- temp directory beside the database.
SET memory_limit = {memory_limit};
