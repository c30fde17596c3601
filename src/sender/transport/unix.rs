//! A Unix stream socket (Telegraf's `socket_listener` with `service_address = "unix://…"`).

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Connect, Shape, SocketOptions, Transport, check_socket_open, close_stream, outq, with_path};

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
        Shape {
            unsent_is_unread: true,
            ..Shape::stream("unix")
        }
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

    fn check_open(&mut self) -> io::Result<()> {
        check_socket_open(&self.0)
    }

    fn close(mut self: Box<Self>, timeout: Duration) -> io::Result<()> {
        close_stream(&mut self.0, timeout)
    }
}
