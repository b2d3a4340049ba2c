//! database: the store as the application uses it, with every derived-table step registered.
//!
//! The store depends on nothing above it; the modules that own derived tables register their
//! steps here, in the order they must run: the Jira key macro before the session views that
//! call it, and the session fold before the Jira outbox that reads the folded sessions.
//! Everything that opens the database for the product (serve, ingest, bench, ops) goes
//! through [`open`], so no path stores events without keeping the derived tables current.

use crate::analytics::{rollups, sessions};
use crate::directory;
use crate::jira;
use crate::store::{Derivations, Store, StoreError};

/// Every derived-table step, in order.
pub fn derivations() -> Derivations {
    Derivations::default()
        .define("jira key macro", jira::define_key_macro)
        .define("session views", sessions::define_views)
        .define("directory views", directory::store::define_views)
        .after_insert("session fold", sessions::fold)
        .after_insert("event counts", rollups::count_events)
        .catch_up("all-time rollups", rollups::catch_up)
        .after_insert("jira outbox", jira::outbox::enqueue_closed)
}

/// Opens (creating if needed) the database at `path` with every derived step registered.
pub fn open(path: &str) -> Result<Store, StoreError> {
    Store::open(path, derivations())
}
