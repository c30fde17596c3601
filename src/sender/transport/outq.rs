//! What the kernel says of a descriptor's outgoing side: how many bytes written to a stream
//! socket its peer has not yet taken, and whether a descriptor can take more within a time.
//!
//! Linux answers the first with the `SIOCOUTQ` ioctl: for TCP, bytes not yet acknowledged; for
//! Unix sockets, the memory the unread data holds (a little more than its bytes, so we resend a
//! little more than needed, never less); the second with `poll`. With `usage`, one of the two
//! places telemit needs `unsafe`.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::time::Duration;

/// Bytes still queued in the kernel for `socket`, or `None` where it cannot be known.
#[cfg(target_os = "linux")]
pub(crate) fn unsent_bytes(socket: &impl AsRawFd) -> Option<usize> {
    let mut value: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one c_int through the pointer, which points to a
    // live c_int; the descriptor is borrowed from an open socket for the duration of the call.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut value) };
    (result == 0).then(|| usize::try_from(value).unwrap_or(0))
}

/// Bytes still queued in the kernel for `socket`, or `None` where it cannot be known.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unsent_bytes(_socket: &impl AsRawFd) -> Option<usize> {
    None
}

/// Whether `fd` can take a write within `timeout` (`poll` for `POLLOUT`): a pipe then has room
/// for at least `PIPE_BUF` bytes. An error or hang-up on the descriptor counts as writable, so
/// that the write itself reports it.
pub(crate) fn writable_within(fd: &impl AsRawFd, timeout: Duration) -> std::io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one pollfd, borrowed for the call, for a descriptor that stays open during it.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    match ready {
        -1 => {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(error)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}
