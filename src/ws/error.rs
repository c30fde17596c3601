//! Why a stream cannot run: [`WsError`].

use crate::tls::TlsError;

/// A stream that can never work: a configuration the client cannot use (it names the value at
/// fault), or a reader that could not run. Connection failures are not errors: the stream
/// reports them as [`WsEvent`](crate::ws::WsEvent)s and reconnects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The URL is not one a WebSocket client can connect to (scheme, host, syntax).
    #[error("{url}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request header name that HTTP does not allow.
    #[error("header {name:?}: {reason}")]
    HeaderName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request header value that HTTP does not allow (a control character, say). The value
    /// is not repeated here: headers often carry credentials.
    #[error("header {name}: {reason}")]
    HeaderValue {
        /// The header's name, lowercased as HTTP/2 and the client send it.
        name: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// The TLS settings cannot be used (an unreadable or empty CA file).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The stream was polled outside a Tokio runtime, which its reader task needs.
    #[error("the stream needs a Tokio runtime to run on")]
    NoRuntime,
    /// The reader task panicked.
    #[error("the stream reader panicked")]
    ReaderPanicked,
    /// The reader task ended before it was told to stop (its runtime shut down).
    #[error("the stream reader stopped")]
    ReaderStopped,
}
