//! A small receiver that behaves like Telegraf's `inputs.socket_listener`: the same line
//! splitting on streams, whole-datagram parsing (one bad line loses the datagram), the 64 KiB
//! limits, and the same parsers' rules. `telemit listen`, `telemit demo` and the tests use it to
//! check a pipeline without Telegraf.
//!
//! - [`decode`]: one payload to readings, pure (the rules live here).
//! - [`Listener`] binds a socket and [`ListenerHandle`] runs it: the socket loops.
//! - [`SequenceTracker`]: readings lost and duplicated, from their sequence numbers.
//! - [`CountingSink`] and its [`Tally`]: what arrived, counted.

mod decode;
mod listener;
mod loops;
mod sequence;
mod tally;

use std::sync::Arc;

use crate::format::Format;
use crate::input::telegraf_json::JsonParserOptions;
use crate::reading::{Precision, Reading};
use crate::tls::TlsServerOptions;

pub use decode::decode;
pub use listener::{Listener, ListenerHandle};
pub use sequence::SequenceTracker;
pub use tally::{CountingSink, Tally};

/// Called from the listener's threads for every payload.
pub(crate) type Sink = Arc<dyn Fn(Received) + Send + Sync>;

/// Telegraf's default `read_buffer_size`, and the longest line it reads on a stream.
pub const DEFAULT_READ_BUFFER: usize = 64 * 1024;

/// How a [`Listener`] reads what arrives. Start from [`ListenOptions::default`] (Telegraf's
/// defaults: Influx line protocol, nanoseconds, 64 KiB) and change what differs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenOptions {
    /// The data format (Telegraf's `data_format`).
    pub format: Format,
    /// How a JSON object is read (Telegraf's `json_name_key`, `json_time_key`, `tag_keys`,
    /// `json_string_fields`).
    pub json: JsonParserOptions,
    /// Unit of incoming timestamps (Telegraf's `influx_timestamp_precision`, `json_time_format`).
    pub precision: Precision,
    /// Longest stream line and largest datagram (Telegraf's `read_buffer_size`).
    pub read_buffer_size: usize,
    /// Kernel receive buffer (`SO_RCVBUF`) to ask for on datagram sockets, which Telegraf sets
    /// from `read_buffer_size`; `None` keeps the system default (`net.core.rmem_default`). The
    /// kernel caps it at `net.core.rmem_max`; [`Listener::receive_buffer`] tells what it gave.
    pub socket_buffer: Option<usize>,
    /// Certificate, key and client CAs for `tls://` (required there, unused elsewhere).
    pub tls: Option<TlsServerOptions>,
    /// Stream connections arrive gzip-compressed (Telegraf's `content_encoding = "gzip"`).
    pub gzip: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            format: Format::Influx,
            json: JsonParserOptions::default(),
            precision: Precision::Nanoseconds,
            read_buffer_size: DEFAULT_READ_BUFFER,
            socket_buffer: None,
            tls: None,
            gzip: false,
        }
    }
}

impl ListenOptions {
    /// With data format `format` (Telegraf's `data_format`).
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// With the certificate, key and client CAs for `tls://`.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsServerOptions) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// What one payload (a stream line or a datagram) turned into.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Received {
    /// Readings parsed.
    Readings(Vec<Reading>),
    /// A line or datagram Telegraf would drop, with why.
    Rejected {
        /// The offending text, at most 200 bytes of it (cut at a character boundary, with `…`).
        text: String,
        /// What is wrong, and what was lost.
        error: String,
    },
}
