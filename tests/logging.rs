//! What telemit says on stderr, and how: levels (`-q`, `-v`, `RUST_LOG`), `--log-format json`,
//! a stderr that cannot be written, `bench` on a terminal, and the `/metrics` help texts.

mod support;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MIXED: &str = "cpu,host=a load=0.5 1700000000000000000\n\
bad line\n\
cpu,host=c load=1 1700000000000000001\n";

fn telemit_with(args: &[&str], envs: &[(&str, &str)], stdin: &str, stderr: Stdio) -> Output {
    support::processes::run_telemit(args, envs, stdin.as_bytes(), stderr)
}

fn telemit(args: &[&str], envs: &[(&str, &str)], stdin: &str) -> (Option<i32>, String, String) {
    let out = telemit_with(args, envs, stdin, Stdio::piped());
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just returned by pipe(2) and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

#[test]
fn a_stderr_that_cannot_be_written_changes_neither_output_nor_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let messages = dir.path().join("messages.jsonl");
    std::fs::write(
        &messages,
        "{\"e\":\"trade\",\"s\":\"BNBUSDT\",\"p\":\"1\"}\nnot json\n",
    )
    .unwrap();
    let map = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/binance-trade.toml");
    let map_args = ["map", "--map", map, messages.to_str().unwrap()];
    let (map_code, map_stdout, map_stderr) = telemit(&map_args, &[], "");
    assert_eq!(map_code, Some(1), "{map_stderr}");
    assert!(map_stderr.contains("line 2"), "{map_stderr}");

    for (name, stderr) in [
        ("closed pipe", closed_pipe as fn() -> Stdio),
        ("/dev/full", dev_full),
    ] {
        let out = telemit_with(&["pipe"], &[], MIXED, stderr());
        assert_eq!(out.status.code(), Some(1), "pipe, stderr a {name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cpu,host=a load=0.5 1700000000000000000\ncpu,host=c load=1.0 1700000000000000001\n",
            "pipe, stderr a {name}"
        );
        let out = telemit_with(&map_args, &[], "", stderr());
        assert_eq!(out.status.code(), Some(1), "map, stderr a {name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            map_stdout,
            "map, {name}"
        );
        // All good: still 0.
        let out = telemit_with(&["pipe"], &[], "cpu v=1\n", stderr());
        assert_eq!(out.status.code(), Some(0), "a good pipe, stderr a {name}");
    }
}

#[test]
fn log_format_json_writes_one_object_per_event() {
    let (code, stdout, stderr) = telemit(&["pipe", "--log-format", "json"], &[], MIXED);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stdout.lines().count(), 2);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(events.len(), 2, "{stderr}");
    let bad = &events[0];
    assert_eq!(bad["level"], "ERROR", "{bad}");
    assert_eq!(bad["target"], "telemit::input", "{bad}");
    assert_eq!(bad["line"], 2, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2, column 9: expected '=' after the field key"),
        "{bad}"
    );
    assert!(bad["timestamp"].as_str().unwrap().ends_with('Z'), "{bad}");
    let summary = &events[1];
    assert_eq!(summary["target"], "telemit::summary", "{summary}");
    assert_eq!(
        summary["level"], "ERROR",
        "a run that rejected a line: {summary}"
    );
    for (field, value) in [
        ("lines", 3),
        ("written", 2),
        ("rejected", 1),
        ("dropped", 0),
    ] {
        assert_eq!(summary[field], value, "{field} in {summary}");
    }

    // The environment variable does the same, for a container or a unit file.
    let (_, _, stderr) = telemit(&["pipe"], &[("TELEMIT_LOG_FORMAT", "json")], "cpu v=1\n");
    let summary: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(summary["level"], "INFO", "{summary}");

    // A usage error is an event too.
    let (code, _, stderr) = telemit(
        &[
            "pipe",
            "--log-format",
            "json",
            "--format",
            "wavefront",
            "--wavefront-source",
            "",
        ],
        &[],
        "",
    );
    assert_eq!(code, Some(2), "{stderr}");
    let error: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(error["level"], "ERROR", "{error}");
}

#[test]
fn quiet_keeps_errors_and_the_summary_says_why_readings_were_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let to = format!("unix://{}", dir.path().join("absent.sock").display());
    let args = ["--to", &to, "--flush-timeout", "300ms", "-q"];
    let (code, _, stderr) = telemit(&[&["pipe"][..], &args].concat(), &[], "cpu v=1\nbad\n");
    assert_eq!(code, Some(1), "{stderr}");
    // The bad line and the summary, not the connection incident itself.
    assert!(
        stderr.starts_with("telemit: line 2, column 4: "),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "{stderr}");
    let summary = stderr.lines().last().unwrap();
    assert!(
        summary
            .contains("dropped 1 (send_error 1); last delivery failure: cannot connect to unix://")
            && summary.contains("absent.sock: No such file or directory"),
        "{stderr}"
    );

    let (code, _, stderr) = telemit(&[&["send", "cpu v=1"][..], &args].concat(), &[], "");
    assert_eq!(code, Some(1), "{stderr}");
    // A one-shot send to a socket path that is not there fails at once, with the cause.
    assert!(
        stderr.contains("the reading was not delivered: ")
            && stderr.contains("absent.sock: No such file or directory"),
        "{stderr}"
    );

    // A quiet run that went well says nothing.
    let (code, _, stderr) = telemit(&["pipe", "-q"], &[], "cpu v=1\n");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

#[test]
fn verbose_and_rust_log_choose_the_detail() {
    let debug = "telemit: debug: sending to - as influx, queue of 10000 readings";
    let (_, _, stderr) = telemit(&["pipe"], &[], "cpu v=1\n");
    assert!(!stderr.contains(debug), "{stderr}");
    // -v goes before or after the command's name.
    for args in [["-v", "pipe"], ["pipe", "-v"]] {
        let (code, _, stderr) = telemit(&args, &[], "cpu v=1\n");
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.starts_with(debug), "{args:?}: {stderr}");
        assert!(
            stderr.ends_with(
                "wrote 1 reading, rejected 0 lines (0 bad, 0 not sendable), dropped 0\n"
            )
        );
    }
    // RUST_LOG replaces the flags: errors only, here, so a good run is silent...
    let (code, _, stderr) = telemit(&["pipe", "-v"], &[("RUST_LOG", "error")], "cpu v=1\n");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    // ... and a target of its own can be turned up alone.
    let (_, _, stderr) = telemit(
        &["pipe"],
        &[("RUST_LOG", "error,telemit::cli=debug")],
        "cpu v=1\n",
    );
    assert!(stderr.starts_with(debug), "{stderr}");
    assert!(!stderr.contains("wrote"), "{stderr}");
    // A filter that does not parse is said, and the flags decide.
    let (code, _, stderr) = telemit(&["pipe"], &[("RUST_LOG", "=[")], "cpu v=1\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.starts_with("telemit: RUST_LOG=\"=[\" is not a filter"),
        "{stderr}"
    );
    assert!(stderr.contains("wrote 1 reading"), "{stderr}");
}

/// Runs telemit with its standard output on a pseudo-terminal; (exit status, stderr, what the
/// terminal received).
fn on_a_terminal(args: &[&str]) -> (Option<i32>, String, String) {
    let (mut controller, mut terminal) = (-1, -1);
    // SAFETY: openpty(3) writes two descriptors into the integers; the other pointers may be
    // null.
    let opened = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty failed");
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    let (controller, terminal) = unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(terminal))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // What the terminal got: nonblocking, since its other end stays open in this process.
    let mut controller = std::fs::File::from(controller);
    // SAFETY: a plain fcntl on a descriptor this function owns.
    unsafe {
        let flags = libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&controller), libc::F_GETFL);
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&controller),
            libc::F_SETFL,
            flags | libc::O_NONBLOCK,
        );
    }
    let mut shown = vec![0; 1 << 16];
    let n = controller.read(&mut shown).unwrap_or(0);
    (
        status.code(),
        stderr,
        String::from_utf8_lossy(&shown[..n]).into_owned(),
    )
}

#[test]
fn bench_refuses_to_flood_a_terminal_and_says_what_to_do() {
    for args in [&["bench"][..], &["bench", "--to", "-", "--count", "5"]] {
        let (code, stderr, shown) = on_a_terminal(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(shown, "", "{args:?}: nothing reaches the terminal");
        assert!(
            stderr.starts_with("telemit: refusing to write the benchmark's readings")
                && stderr.contains("telemit bench --to - > /dev/null"),
            "{args:?}: {stderr}"
        );
    }
    // Anywhere else, it runs.
    let (code, stdout, stderr) = telemit(&["bench", "--to", "-", "--count", "5"], &[], "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
}

#[test]
fn metrics_help_texts_say_what_a_series_counts() {
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut pipe = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--metrics-listen", &addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = pipe.stdin.take().unwrap();
    stdin.write_all(b"cpu v=1\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            support::http(port, "GET", "/metrics", b"").1
        } else {
            String::new()
        };
        if text.contains("telemit_written_total 1") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    let _ = pipe.wait();
    for line in [
        "# HELP telemit_written_total Readings written to the socket (for datagrams: handed to the kernel)",
        "# HELP telemit_queue_depth Readings waiting in the sender's queue",
        "# HELP telemit_dropped_queue_full_total Readings not delivered, for the reason queue_full",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    // No help text is only the metric's name again.
    for help in text.lines().filter(|l| l.starts_with("# HELP ")) {
        let mut words = help.splitn(4, ' ').skip(2);
        let (name, rest) = (words.next().unwrap(), words.next().unwrap_or(""));
        assert!(rest != name && !rest.is_empty(), "{help}");
    }
}
