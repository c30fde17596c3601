//! Standard output: how Telegraf's `inputs.execd` reads a program.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use super::{Connect, Shape, SocketOptions, Transport, outq};

/// The most bytes one write to a pipe takes without blocking once `poll` says it has room.
const PIPE_BUF: usize = libc::PIPE_BUF;

pub(super) struct Connector {
    write_timeout: Duration,
}

impl Connector {
    pub(super) fn new(options: &SocketOptions) -> Connector {
        Connector {
            write_timeout: options.write_timeout,
        }
    }
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape {
            max_line: usize::MAX,
            compressible: false,
            reconnectable: false,
            ..Shape::stream("stdout")
        }
    }

    /// A descriptor of its own for standard output (a duplicate: writes go straight to the
    /// kernel, past the standard library's line buffer, and closing it leaves stdout open).
    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let pipe = {
            use std::os::unix::fs::FileTypeExt;
            file.metadata()?.file_type().is_fifo()
        };
        Ok(Box::new(Stdout {
            file,
            pipe,
            write_timeout: self.write_timeout,
        }))
    }
}

struct Stdout {
    file: File,
    /// A pipe (`| telemit …`, `| head`): a reader that stops reading fills it, and a write
    /// would then block for good, past the flush timeout.
    pipe: bool,
    write_timeout: Duration,
}

impl Transport for Stdout {
    /// On a pipe, waits up to the write timeout for room and writes at most what the room
    /// takes, so that a reader that stopped reading is a timed-out write the writer can give
    /// up on at its flush deadline, not a blocked thread.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !self.pipe {
            return self.file.write(bytes);
        }
        if !outq::writable_within(&self.file, self.write_timeout)? {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "standard output takes nothing (its reader does not read)",
            ));
        }
        self.file.write(&bytes[..bytes.len().min(PIPE_BUF)])
    }

    fn close(self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }
}
