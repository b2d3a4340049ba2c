-- lock_down: what `serve` sets on the DuckDB instance before any reader connection exists.
-- The order matters (checked against DuckDB 2.0):
--   * allowed_directories can only be changed while external access is still enabled;
--   * disabling external access also allows the attached database file (+ .wal) and the
--     temp/spill directory (`<db>.tmp`), so those need not be listed;
--   * lock_configuration comes last: after it no SET, RESET or PRAGMA that changes a
--     setting succeeds, from any connection (the store itself issues none in `serve`).
SET allowed_directories = {allowed_directories};
SET enable_external_access = false;
SET autoload_known_extensions = false;
SET autoinstall_known_extensions = false;
SET memory_limit = {memory_limit};
SET threads = {threads};
SET checkpoint_threshold = {checkpoint_threshold};
SET lock_configuration = true;
