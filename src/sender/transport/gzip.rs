//! gzip over any stream transport (Telegraf's `content_encoding = "gzip"`), one gzip stream
//! per connection.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Duration;

use super::{Connect, Shape, Transport};

/// Opens the inner transport and compresses what is written to it.
pub(super) struct Connector {
    inner: Box<dyn Connect>,
}

impl Connector {
    pub fn new(inner: Box<dyn Connect>) -> Connector {
        Connector { inner }
    }
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape {
            compressible: false,
            ..self.inner.shape()
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        Ok(Box::new(Gzip::new(self.inner.connect()?)))
    }
}

/// A compressed stream connection.
///
/// Every batch ends with a sync flush, so the receiver can decode it at once. Each flush is
/// also a point where a count of compressed bytes matches a count of plaintext bytes exactly;
/// from the kernel's count of compressed bytes not yet taken, the newest such point the peer
/// has passed tells which readings to send again after a failure.
struct Gzip {
    encoder: flate2::write::GzEncoder<Counted>,
    plaintext: u64,
    /// (compressed, plaintext) byte counts at each flush the peer may not have passed yet.
    flushes: VecDeque<(u64, u64)>,
}

/// A transport that counts the bytes written to it.
struct Counted {
    inner: Box<dyn Transport>,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Gzip {
    fn new(inner: Box<dyn Transport>) -> Gzip {
        let counted = Counted { inner, written: 0 };
        Gzip {
            encoder: flate2::write::GzEncoder::new(counted, flate2::Compression::fast()),
            plaintext: 0,
            flushes: VecDeque::from([(0, 0)]),
        }
    }
}

impl Transport for Gzip {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // The encoder writes out what it holds before it takes new input, so an error means
        // none of `bytes` was taken and the same call can be retried.
        let n = self.encoder.write(bytes)?;
        self.plaintext += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()?;
        self.flushes
            .push_back((self.encoder.get_ref().written, self.plaintext));
        Ok(())
    }

    /// Plaintext bytes the peer may not have taken: everything after the newest flush point
    /// within what the kernel says the peer took.
    fn unsent_bytes(&mut self) -> Option<usize> {
        let counted = self.encoder.get_mut();
        let unsent = counted.inner.unsent_bytes()? as u64;
        let taken = counted.written.saturating_sub(unsent);
        while self.flushes.len() > 1 && self.flushes[1].0 <= taken {
            self.flushes.pop_front();
        }
        let (_, safe) = self.flushes.front().copied().unwrap_or((0, 0));
        usize::try_from(self.plaintext - safe).ok()
    }

    fn check_open(&mut self) -> io::Result<()> {
        self.encoder.get_mut().inner.check_open()
    }

    fn close(self: Box<Self>, timeout: Duration) -> io::Result<()> {
        let mut encoder = self.encoder;
        // The trailer ends the gzip stream; then close the connection as usual.
        encoder.try_finish()?;
        encoder.finish()?.inner.close(timeout)
    }
}
