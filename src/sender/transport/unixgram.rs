//! A Unix datagram socket (`service_address = "unixgram://…"`).

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    Connect, DEFAULT_UNIXGRAM_DATAGRAM, DatagramLimits, Shape, SocketOptions, TELEGRAF_MAX_LINE,
    Transport,
};

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
            datagram: Some(DatagramLimits {
                default: DEFAULT_UNIXGRAM_DATAGRAM,
                max: TELEGRAF_MAX_LINE,
            }),
            compressible: false,
            ..Shape::stream("unixgram")
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let socket = UnixDatagram::unbound()?;
        socket
            .connect(&self.path)
            .map_err(|e| super::unix::explain(e, &self.path))?;
        socket.set_write_timeout(Some(self.write_timeout))?;
        Ok(Box::new(Unixgram(socket)))
    }
}

struct Unixgram(UnixDatagram);

impl Transport for Unixgram {
    fn send_datagram(&mut self, payload: &[u8]) -> io::Result<()> {
        let sent = self.0.send(payload)?;
        whole(sent, payload.len())
    }

    fn close(self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }
}

/// A datagram the kernel cut short is an error, never a silent loss.
pub(super) fn whole(sent: usize, len: usize) -> io::Result<()> {
    if sent == len {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "datagram cut to {sent} of {len} bytes"
        )))
    }
}
