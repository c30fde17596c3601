//! Helpers the integration tests share, one file per concern:
//!
//! - `net`: free loopback ports, a tiny HTTP client, the kernel's UDP drop counter.
//! - `peers`: receivers that close on the sender (at once, after N bytes) or vanish.
//! - `servers`: real servers (InfluxDB 1.x, VictoriaMetrics) in temporary directories.
//! - `receiver`: a `telemit::listen` receiver that counts what arrives.
//! - `certificates`: a test CA and the certificates it signs.
//! - `processes`: `telemit` as a child process, and its peak memory.
//! - `samples`: sample readings and the recorded Binance stream (shared with the benches).
//! - `replay`: a WebSocket server replaying recorded messages (shared with the benches).
//!
//! Each test file uses a few of them; the rest would be reported unused in that file.
#![allow(dead_code, unused_imports)]

pub mod allocations;
pub mod binance;
pub mod certificates;
pub mod net;
pub mod peers;
pub mod processes;
pub mod prometheus;
pub mod receiver;
pub mod replay;
pub mod samples;
pub mod servers;

// The names the test files use, at the top as before the split.
pub use certificates::Authority;
pub use net::{encode_query, free_port, http, udp_drops};
pub use processes::{spawn_pipe, wait_with_peak_rss};
pub use receiver::Receiver;
pub use samples::{escape_heavy_readings, numbered};
pub use servers::{Server, assert_influx_holds, server_binary};
