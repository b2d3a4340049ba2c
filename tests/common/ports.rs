//! Free loopback ports for test servers, shared by `tests/common` and `tests/clients/harness.rs`.
//!
//! A port taken with `bind(":0")` comes from the kernel's ephemeral range, the same range every
//! outgoing connection of every parallel test draws its local port from, so between picking it
//! and `serve` binding it a client socket can take it ("Address already in use" in CI). Ports
//! here come from below that range (20000–32767), from a counter seeded by the process id so
//! parallel tests in one binary never pick the same one, and each is checked free before use.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

const LOW: u32 = 20_000;
/// Linux's default ephemeral range starts at 32768.
const SPAN: u32 = 32_768 - LOW;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port on 127.0.0.1 that nothing listens on now and no outgoing socket will be given.
pub fn free_port() -> u16 {
    let seed = std::process::id().wrapping_mul(7_919);
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + seed.wrapping_add(n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN);
}
