-- period_sessions_cached: the CTE `s` read from `report_s`, a temp table holding the output of
-- period_sessions.sql, filled once per report so the report's queries don't recompute the
-- `sessions` view each time. It takes the same parameters so the queries stay unchanged
-- ($1..$3 are already applied in `report_s`).
s AS (
    SELECT * FROM report_s
    WHERE ($1::TIMESTAMP IS NULL OR true) AND ($2::TIMESTAMP IS NULL OR true) AND ($3::VARCHAR IS NULL OR true)
)
