//! A Unix stream socket (Telegraf's `socket_listener` with `service_address = "unix://…"`).

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    Connect, Shape, SocketOptions, Transport, check_socket_open, close_stream, outq, with_path,
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
            unsent_is_unread: true,
            ..Shape::stream("unix")
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let stream = UnixStream::connect(&self.path).map_err(|e| explain(e, &self.path))?;
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

/// A failed connection to the Unix socket at `path`, with the path and, where the cause is
/// one waiting cannot fix, what to change.
pub(crate) fn explain(error: io::Error, path: &Path) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    let file_type = std::fs::metadata(path).map(|m| m.file_type());
    let hint = match error.kind() {
        io::ErrorKind::NotFound => format!(
            " (nothing listens there: is Telegraf running with a socket_listener whose \
             service_address is \"unix://{}\"?)",
            path.display()
        ),
        io::ErrorKind::PermissionDenied => format!(
            " (this user may not write to the socket: set socket_mode = \"0660\" in \
             Telegraf's socket_listener and add this user to {}, or run as a member of it)",
            group_of(path)
        ),
        io::ErrorKind::ConnectionRefused => match file_type {
            Ok(kind) if !kind.is_socket() => format!(
                " (it is {}, not a socket: give the path of Telegraf's socket_listener \
                 service_address)",
                if kind.is_dir() {
                    "a directory"
                } else if kind.is_file() {
                    "a regular file"
                } else {
                    "a special file"
                }
            ),
            _ => " (no process listens on this socket: a socket file left by a Telegraf \
                  that stopped)"
                .to_owned(),
        },
        _ => String::new(),
    };
    let error = with_path(error, path);
    io::Error::new(error.kind(), format!("{error}{hint}"))
}

/// Checks at once that the Unix socket at `path` can be written to (a stream socket, or a
/// datagram one when `datagram`), by connecting to it: the path exists, is a socket, this
/// user may write to it, and something listens. The error names the path and the fix.
pub(crate) fn check_reachable(path: &Path, datagram: bool) -> io::Result<()> {
    let connected = if datagram {
        std::os::unix::net::UnixDatagram::unbound()?.connect(path)
    } else {
        UnixStream::connect(path).map(drop)
    };
    connected.map_err(|e| explain(e, path))
}

/// "the group NAME (gid N)" of the file at `path`, for messages.
fn group_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(gid) = std::fs::metadata(path).map(|m| m.gid()) else {
        return "the socket's group".to_owned();
    };
    let name = std::fs::read_to_string("/etc/group")
        .ok()
        .and_then(|groups| {
            groups.lines().find_map(|line| {
                let mut parts = line.split(':');
                let name = parts.next()?;
                let id = parts.nth(1)?.parse::<u32>().ok()?;
                (id == gid).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("the group {name} (gid {gid})"),
        None => format!("the socket's group (gid {gid})"),
    }
}
