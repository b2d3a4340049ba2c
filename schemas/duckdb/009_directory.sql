-- 009: the directory of engineers and groups (src/directory/). Each import adds a snapshot;
-- rows are never updated, so a report can name the snapshot it used. The views over the
-- newest snapshot are in src/directory/directory.sql.

CREATE TABLE directory_snapshots (
    snapshot     INTEGER NOT NULL,
    imported_at  TIMESTAMP NOT NULL,
    source       VARCHAR,              -- the file name, `api`, or the watched path
    people       INTEGER NOT NULL,
    groups       INTEGER NOT NULL,
    identities   INTEGER NOT NULL
);

CREATE TABLE directory_people (
    snapshot   INTEGER NOT NULL,
    person_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    email      VARCHAR
);

-- kind: kubernetes_user | client_name | client_id | client_hostname
CREATE TABLE directory_identities (
    snapshot   INTEGER NOT NULL,
    person_id  VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    value      VARCHAR NOT NULL
);

-- group_type is free-form (team, department, business unit, ...); the tree is the parent links.
CREATE TABLE directory_groups (
    snapshot    INTEGER NOT NULL,
    group_id    VARCHAR NOT NULL,
    group_type  VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    parent_id   VARCHAR
);

CREATE TABLE directory_members (
    snapshot   INTEGER NOT NULL,
    person_id  VARCHAR NOT NULL,
    group_id   VARCHAR NOT NULL
);
