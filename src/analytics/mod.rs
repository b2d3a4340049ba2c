//! derive: sessions, users, targets, CI and trends from stored events. SQL lives in `.sql`
//! files beside the code; each query has a name.

pub mod adoption;
pub mod buckets;
pub mod display;
pub mod export;
pub mod period;
pub mod reports;
pub mod rollups;
pub mod sessions;
pub mod xlsx;
