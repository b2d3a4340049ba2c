-- known_relations: the tables and views of this database's main schema, which a query may
-- name, and the database's own name (for catalog-qualified references).
SELECT lower(table_name), current_database()
FROM information_schema.tables
WHERE table_schema = 'main' AND table_catalog = current_database()
