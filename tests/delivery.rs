//! What `telemit pipe` claims against receivers that close on it: at once, after so many
//! bytes, or by vanishing, on TCP, TLS and Unix sockets. The summary's "wrote" must be what
//! the receiver read (or, where TCP cannot tell, say that it is not confirmed), and a run
//! whose readings did not all arrive exits non-zero.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::peers::{Behaviour, KINDS, Kind, Peer};

const READINGS: usize = 50;

/// The readings fed to `telemit pipe`, one line each (as `telemit pipe` writes them).
fn lines() -> Vec<String> {
    (0..READINGS)
        .map(|n| format!("m,n={n:02} v={n}i"))
        .collect()
}

/// What a `telemit pipe` run said and did.
#[derive(Debug)]
struct Run {
    status: i32,
    written: u64,
    dropped: u64,
    unconfirmed: u64,
    stderr: String,
}

/// Runs `telemit pipe` to `peer`, feeding `lines` one every `pace`; after the first line it
/// waits until the receiver has accepted the connection (and acted on it).
fn pipe(peer: &Peer, lines: &[String], pace: Duration) -> Run {
    pipe_with(peer, lines, pace, &[])
}

/// [`pipe`] with more arguments.
fn pipe_with(peer: &Peer, lines: &[String], pace: Duration, extra: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_telemit"));
    command.args([
        "pipe",
        "--to",
        &peer.endpoint.to_string(),
        "--flush-timeout",
        "1s",
        "--backoff-min",
        "20ms",
        "--backoff-max",
        "100ms",
    ]);
    command.args(extra);
    if let Some(ca) = &peer.tls.ca_file {
        command.arg("--tls-ca").arg(ca);
        command.args(["--tls-server-name", "localhost"]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for (i, line) in lines.iter().enumerate() {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        if i == 0 {
            for _ in 0..500 {
                if peer.connections() > 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(pace);
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = stderr
        .lines()
        .find(|l| l.contains(", wrote "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let number_after = |word: &str| -> u64 {
        summary
            .split(word)
            .nth(1)
            .and_then(|rest| {
                rest.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let unconfirmed = summary
        .split("; ")
        .find(|part| part.contains("not confirmed"))
        .and_then(|part| part.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    Run {
        status: output.status.code().unwrap_or(-1),
        written: number_after("wrote"),
        dropped: number_after("dropped"),
        unconfirmed,
        stderr,
    }
}

fn unique(lines: &[String]) -> usize {
    lines.iter().collect::<HashSet<_>>().len()
}

/// A receiver that closes its side as soon as it accepts reads nothing the sender counts
/// after it noticed: at most the first line (written before the close could be seen), and
/// the run exits non-zero rather than claiming the 50.
#[test]
fn a_receiver_that_half_closes_at_once_is_not_claimed_as_delivered() {
    let dir = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let peer = Peer::start(kind, dir.path(), Behaviour::HalfCloseAtOnce);
        let run = pipe(&peer, &lines(), Duration::from_millis(2));
        let received = peer.lines();
        let case = format!("{kind:?}: {run:?}; received {received:?}");
        assert_eq!(run.status, 1, "{case}");
        assert_eq!(run.written + run.dropped, READINGS as u64, "{case}");
        assert!(run.written <= 1, "{case}");
        // What is counted as written was read; the one line written before the close was
        // seen may have been read and still be given up (at-least-once, never over).
        assert!(run.written as usize <= unique(&received), "{case}");
        assert!(unique(&received) <= 1, "{case}");
        assert!(
            run.stderr.contains("the receiver closed the connection"),
            "{case}"
        );
        peer.stop();
    }
}

/// A Unix receiver that reads nothing and closes its side while telemit waits for its close:
/// the kernel still holds every byte for it, so the close is not confirmed and nothing is
/// counted as written. (On TCP the receiver's kernel has acknowledged the bytes, which cannot
/// be told from a read: the README says so.)
#[test]
fn a_unix_receiver_that_closes_its_side_without_reading_confirms_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::start(
        Kind::Unix,
        dir.path(),
        Behaviour::HalfCloseLaterUnread(Duration::from_millis(300)),
    );
    let run = pipe(&peer, &lines(), Duration::ZERO);
    let case = format!("{run:?}");
    assert_eq!(run.status, 1, "{case}");
    assert_eq!(run.written, 0, "{case}");
    assert_eq!(run.dropped, READINGS as u64, "{case}");
    assert!(run.stderr.contains("bytes not taken"), "{case}");
    peer.stop();
}

/// A receiver that reads 10 lines and 5 bytes of the 11th, closes, and then reads the next
/// connection to the end gets every reading: the cut line and everything after it are
/// written again on the new connection, and the run exits 0.
#[test]
fn a_receiver_closing_after_n_bytes_gets_the_rest_on_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let lines = lines();
    let cut = lines[..10].iter().map(|l| l.len() + 1).sum::<usize>() + 5;
    for kind in KINDS {
        let peer = Peer::start(kind, dir.path(), Behaviour::CloseAfter(cut));
        let run = pipe(&peer, &lines, Duration::from_millis(20));
        let received = peer.lines();
        let case = format!("{kind:?}: {run:?}; {} lines received", received.len());
        assert_eq!(run.status, 0, "{case}");
        assert_eq!(run.written, READINGS as u64, "{case}");
        assert_eq!(run.dropped, 0, "{case}");
        assert_eq!(run.unconfirmed, 0, "{case}");
        assert_eq!(unique(&received), READINGS, "{case}");
        assert_eq!(peer.received()[0].len(), cut, "{case}");
        // At-least-once: the 11th line, and any the kernel's count leaves in doubt, come
        // again on the second connection, in order, and then the rest.
        let second = &received[received.len() - (READINGS - 10)..];
        assert_eq!(second, &lines[10..], "{case}");
        peer.stop();
    }
}

/// A receiver that reads 10 lines, then hangs and disappears (its connection open and
/// unread, its listener gone): the graceful close at exit times out, and the run exits
/// non-zero. On a Unix socket the kernel says what was not read (counting its bookkeeping
/// too, so a few read lines may be counted dropped: never more written than read); on TCP
/// and TLS what cannot be known is reported as not confirmed.
#[test]
fn a_receiver_that_vanishes_leaves_a_run_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lines = lines();
    let read = lines[..10].iter().map(|l| l.len() + 1).sum::<usize>();
    for kind in KINDS {
        let peer = Peer::start(kind, dir.path(), Behaviour::Vanish(read));
        // Paced over more than a second, so that on TCP the oldest readings are past what
        // the sender keeps for resending.
        let run = pipe(&peer, &lines, Duration::from_millis(30));
        let received = peer.lines();
        let case = format!("{kind:?}: {run:?}; {} lines received", received.len());
        assert_eq!(received.len(), 10, "{case}");
        assert_eq!(run.status, 1, "{case}");
        assert_eq!(run.written + run.dropped, READINGS as u64, "{case}");
        assert!(
            run.stderr.contains("did not read to the end and close"),
            "{case}"
        );
        match kind {
            Kind::Unix => {
                assert!(run.written <= 10, "{case}");
                assert_eq!(run.unconfirmed, 0, "{case}");
            }
            Kind::Tcp | Kind::Tls => {
                // Its kernel acknowledged more than it read: what is not sent again is
                // written but not confirmed.
                assert_eq!(run.written, run.unconfirmed, "{case}");
                assert!(run.written > 0, "{case}");
            }
        }
        peer.stop();
    }
}

/// `--reopen-after 10` over 50 readings is five connections, whatever the batching: four
/// planned reopens, each close confirmed, none counted as a reconnect; `--reopen-interval`
/// reopens by age.
#[test]
fn reopens_count_readings_or_age_and_are_not_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let lines = lines();
    for kind in KINDS {
        let peer = Peer::start(kind, dir.path(), Behaviour::Faithful);
        // No pacing: the readings go in a few large batches, split where a reopen falls.
        let run = pipe_with(&peer, &lines, Duration::ZERO, &["--reopen-after", "10"]);
        let case = format!("{kind:?}: {run:?}");
        assert_eq!(run.status, 0, "{case}");
        assert_eq!(run.written, READINGS as u64, "{case}");
        assert_eq!(peer.connections(), 5, "{case}");
        assert!(run.stderr.contains("; 4 planned reopens"), "{case}");
        assert!(!run.stderr.contains("reconnects"), "{case}");
        assert_eq!(peer.lines(), lines, "{case}");
        let per_connection: Vec<usize> = peer
            .received()
            .iter()
            .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
            .collect();
        assert_eq!(per_connection, [10; 5], "{case}");
        peer.stop();
    }
    let peer = Peer::start(Kind::Unix, dir.path(), Behaviour::Faithful);
    // 50 readings over about 1.5 s with a 400 ms interval: a few reopens, by age.
    let run = pipe_with(
        &peer,
        &lines,
        Duration::from_millis(30),
        &["--reopen-interval", "400ms"],
    );
    let case = format!("{run:?}");
    assert_eq!(run.status, 0, "{case}");
    assert!((3..=5).contains(&peer.connections()), "{case}");
    let reopens = format!("; {} planned reopens", peer.connections() - 1);
    assert!(run.stderr.contains(&reopens), "{case}");
    assert_eq!(peer.lines(), lines, "{case}");
}

/// A receiver that reads to the end and closes (Telegraf's `socket_listener`) confirms the
/// close: every reading written, nothing unconfirmed, exit 0.
#[test]
fn a_faithful_receiver_confirms_the_close() {
    let dir = tempfile::tempdir().unwrap();
    let lines = lines();
    for kind in KINDS {
        let peer = Peer::start(kind, dir.path(), Behaviour::Faithful);
        let run = pipe(&peer, &lines, Duration::ZERO);
        let received = peer.lines();
        let case = format!("{kind:?}: {run:?}");
        assert_eq!(run.status, 0, "{case}");
        assert_eq!(run.written, READINGS as u64, "{case}");
        assert_eq!(run.unconfirmed, 0, "{case}");
        assert_eq!(received, lines, "{case}");
        peer.stop();
    }
}

/// `telemit pipe --to - | head -1`: once the reader of standard output is gone, the rest is
/// dropped and counted, said once, and the run ends at once with a non-zero status instead
/// of retrying a closed pipe (and then waiting out the flush timeout).
#[test]
fn a_closed_standard_output_ends_the_run_at_once() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--to", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // Endless input, like `yes`; it stops when telemit stops reading.
        let mut n = 0u64;
        while writeln!(stdin, "m v={n}i").is_ok() {
            n += 1;
        }
        n
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "m v=0i\n");
    let closed = std::time::Instant::now();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let took = closed.elapsed();
    let fed = feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(2), "took {took:?}: {stderr}");
    assert_eq!(
        stderr.matches("closed: Broken pipe").count(),
        1,
        "said once: {stderr}"
    );
    assert!(!stderr.contains("flush timeout"), "{stderr}");
    assert!(fed > 0);
}

/// A one-shot `send` to a Unix socket path that cannot be written fails at once, naming the
/// path and the fix, instead of waiting out the 5 s flush timeout.
#[test]
fn send_to_an_unusable_unix_socket_fails_at_once_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("telegraf.sock");
    let regular = dir.path().join("file.sock");
    std::fs::write(&regular, b"").unwrap();
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let cases = [
        (&missing, "is Telegraf running"),
        (&regular, "it is a regular file, not a socket"),
        (&stale, "no process listens on this socket"),
    ];
    for (path, hint) in cases {
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
            .args(["send", "--to", &format!("unix://{}", path.display())])
            .args(["-m", "m", "-f", "v=1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(2), "{stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(stderr.contains(hint), "{hint}: {stderr}");
    }
}

/// A socket this user may not write to names Telegraf's `socket_mode` and the group. Root
/// may write to any socket, so as root the command runs as `nobody` (with `setpriv`).
#[test]
fn send_to_a_unix_socket_without_write_permission_names_socket_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("telegraf.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Not even the owner may write (root ignores this; `nobody` is not the owner).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        .unwrap();
    let mut command = if root {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(env!("CARGO_BIN_EXE_telemit"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_telemit"))
    };
    let output = command
        .args(["send", "--to", &format!("unix://{}", path.display())])
        .args(["-m", "m", "-f", "v=1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(stderr.contains("socket_mode"), "{stderr}");
    assert!(stderr.contains("group"), "{stderr}");
}

/// `telemit ws` that never reaches its stream exits non-zero and says so.
#[test]
fn ws_that_never_connected_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let port = support::free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["ws", &format!("ws://127.0.0.1:{port}/stream")])
        .arg("--map")
        .arg(examples.join("binance-kline.toml"))
        .args([
            "--duration",
            "1s",
            "--backoff-min",
            "50ms",
            "--backoff-max",
            "100ms",
        ])
        .arg("--to")
        .arg(format!(
            "unix://{}",
            dir.path().join("unused.sock").display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("never connected"), "{stderr}");
}

/// A one-shot `send` over TCP to a receiver that takes the reading into its kernel but never
/// reads it (and never closes): the close at exit is not confirmed, and `send` says so and
/// exits 1 rather than reporting success.
#[test]
fn send_to_a_receiver_that_never_reads_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::start(Kind::Tcp, dir.path(), Behaviour::Vanish(0));
    let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["send", "--to", &peer.endpoint.to_string(), "m v=1"])
        .args(["--flush-timeout", "1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not read to the end"), "{stderr}");
    assert!(peer.lines().is_empty());
    peer.stop();
}

/// `telemit pipe --to -` into a pipe whose reader never reads: the pipe fills, and the flush
/// timeout ends the run with the rest dropped and counted, instead of a write blocked for good.
#[test]
fn a_standard_output_nobody_reads_is_given_up_at_the_flush_timeout() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--to", "-", "--flush-timeout", "1s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pad = "x".repeat(100);
    for n in 0..5000 {
        writeln!(stdin, "m,k=v f={n}i,pad=\"{pad}\"").unwrap();
    }
    drop(stdin);
    // stdout is kept open and never read.
    let _stdout = child.stdout.take();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("still writing to a pipe nobody reads after 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not be delivered to -"), "{stderr}");
    assert!(stderr.contains("read 5000 lines"), "{stderr}");
}
