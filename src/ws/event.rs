//! What happened on the stream, for logs: [`WsEvent`].

use std::time::Duration;

/// What happened on the stream, for logs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WsEvent {
    /// Connected (and subscribed).
    Connected {
        /// The URL.
        url: String,
    },
    /// The stream ended or failed; a reconnect follows.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A connection attempt failed; the next follows after `retry_in`.
    ConnectFailed {
        /// What failed.
        error: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// A rule failed on a message.
    MappingError {
        /// Rule name.
        rule: String,
        /// What went wrong.
        reason: String,
        /// The message, trimmed.
        message: String,
    },
    /// A message was refused outright.
    Refused {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for WsEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsEvent::Connected { url } => write!(f, "connected to {url}"),
            WsEvent::Disconnected { reason } => write!(f, "stream lost: {reason}; reconnecting"),
            WsEvent::ConnectFailed { error, retry_in } => {
                write!(
                    f,
                    "cannot connect: {error}; retrying in {:.1}s",
                    retry_in.as_secs_f64()
                )
            }
            WsEvent::MappingError {
                rule,
                reason,
                message,
            } => {
                write!(f, "mapping: rule {rule:?}: {reason}: {message}")
            }
            WsEvent::Refused { reason } => write!(f, "message refused: {reason}"),
        }
    }
}
