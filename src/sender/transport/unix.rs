//! A Unix stream socket (Telegraf's `socket_listener` with `service_address = "unix://…"`).

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Connect, DRAIN_STEP, Shape, SocketOptions, Transport, drain, outq, with_path};

pub(super) struct Connector {
    path: PathBuf,
    write_timeout: Duration,
}

impl Connector {
    pub fn new(path: &Path, options: &SocketOptions) -> Connector {
        Connector {
            path: path.to_owned(),
            write_timeout: options.write_timeout,
        }
    }
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape::stream("unix")
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let stream = UnixStream::connect(&self.path).map_err(|e| with_path(e, &self.path))?;
        stream.set_write_timeout(Some(self.write_timeout))?;
        Ok(Box::new(Unix(stream)))
    }
}

struct Unix(UnixStream);

impl Transport for Unix {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }

    fn unsent_bytes(&mut self) -> Option<usize> {
        outq::unsent_bytes(&self.0)
    }

    fn close(self: Box<Self>, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut stream = self.0;
        if stream.shutdown(std::net::Shutdown::Write).is_ok()
            && stream.set_read_timeout(Some(DRAIN_STEP)).is_ok()
        {
            drain(&mut stream, deadline);
        }
    }
}
