//! How many bytes written to a stream socket its peer has not yet taken.
//!
//! Linux answers with the `SIOCOUTQ` ioctl: for TCP, bytes not yet acknowledged; for Unix
//! sockets, the memory the unread data holds (a little more than its bytes, so we resend a
//! little more than needed, never less). With `usage`, one of the two places telemit needs `unsafe`.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

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
