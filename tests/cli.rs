//! The `telemit` binary as a user runs it: stdout, stderr, exit status.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn telemit(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MIXED: &str = "cpu,host=a load=0.5,n=3i 1700000000000000000\n\
bad line\n\
\n\
# a comment\n\
cpu,host=b load=NaN\n\
cpu,host=c load=1 1700000000000000001\n\
mem,host=a used=\"text\" 1700000000000000002\n";

#[test]
fn pipe_reports_bad_lines_and_sends_the_good_ones() {
    let out = telemit(&["pipe"], MIXED);
    assert_eq!(
        text(&out.stdout),
        "cpu,host=a load=0.5,n=3i 1700000000000000000\n\
         cpu,host=c load=1.0 1700000000000000001\n\
         mem,host=a used=\"text\" 1700000000000000002\n"
    );
    assert_eq!(
        text(&out.stderr),
        "telemit: line 2, column 9: expected '=' after the field key, found the end of the line: \"bad line\"\n\
         telemit: line 5, column 17: invalid field value (not a number, boolean or quoted string): \"NaN\": \"cpu,host=b load=NaN\"\n\
         telemit: read 5 readings, wrote 3, rejected 2 (2 bad lines, 0 not sendable), dropped 0\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pipe_strict_stops_at_the_first_bad_line() {
    let out = telemit(&["pipe", "--strict"], MIXED);
    assert_eq!(
        text(&out.stdout),
        "cpu,host=a load=0.5,n=3i 1700000000000000000\n"
    );
    assert!(text(&out.stderr).ends_with(
        "telemit: stopped at the first bad line (--strict): read 2 readings, wrote 1, rejected 1 (1 bad lines, 0 not sendable), dropped 0\n"
    ));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pipe_all_good_exits_zero_in_every_format() {
    let input = "cpu,host=web01,dc=us\\ east usage=0.5,n=3i 1700000000123456789\n";
    let cases = [
        (
            vec!["pipe"],
            "cpu,host=web01,dc=us\\ east usage=0.5,n=3i 1700000000123456789\n",
        ),
        (
            vec!["pipe", "--precision", "s"],
            "cpu,host=web01,dc=us\\ east usage=0.5,n=3i 1700000000\n",
        ),
        (
            vec!["pipe", "--format", "json"],
            "{\"measurement\":\"cpu\",\"host\":\"web01\",\"dc\":\"us east\",\"usage\":0.5,\"n\":3,\"time\":\"1700000000123456789\"}\n",
        ),
        (
            vec!["pipe", "--format", "wavefront"],
            "cpu.usage 0.5 1700000000 source=web01 dc=\"us east\"\ncpu.n 3 1700000000 source=web01 dc=\"us east\"\n",
        ),
        (
            vec!["pipe", "-t", "env=prod", "-t", "host=ignored"],
            "cpu,host=web01,dc=us\\ east,env=prod usage=0.5,n=3i 1700000000123456789\n",
        ),
    ];
    for (args, expected) in cases {
        let out = telemit(&args, input);
        assert_eq!(text(&out.stdout), expected, "{args:?}");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn pipe_reads_json_readings_with_their_precision() {
    let input = "{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"fields\":{\"n\":3,\"f\":3.0,\"ok\":true,\"s\":\"x\"},\"timestamp\":1700000000123}\n\
                 {\"name\":\"cpu\",\"fields\":{\"n\":1},\"time\":5}\n";
    let out = telemit(
        &["pipe", "--input", "json", "--input-precision", "ms"],
        input,
    );
    assert_eq!(
        text(&out.stdout),
        "cpu,host=a n=3i,f=3.0,ok=true,s=\"x\" 1700000000123000000\n"
    );
    assert_eq!(
        text(&out.stderr).lines().next().unwrap(),
        "telemit: line 2, column 37: unknown field `time`, expected one of `name`, `tags`, `fields`, `timestamp`: \"{\\\"name\\\":\\\"cpu\\\",\\\"fields\\\":{\\\"n\\\":1},\\\"time\\\":5}\""
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pipe_reports_what_a_format_cannot_carry_and_overlong_lines() {
    let long = format!("m v=\"{}\"\n", "x".repeat(100));
    let input = format!("m,t=a\"b v=1\nm s=\"text\"\n{long}m v=2\n");
    let out = telemit(
        &["pipe", "--format", "wavefront", "--max-line", "64"],
        &input,
    );
    assert_eq!(text(&out.stdout), "m.v 2.0\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("telemit: line 1: wavefront: value of tag \"t\" \"a\\\"b\" contains '\"'"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "telemit: line 2: wavefront: value of field \"s\" \"\\\"text\\\"\" is a string"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "telemit: line 3: longer than 64 bytes (106 bytes); skipped (raise --max-line)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "read 4 readings, wrote 1, rejected 3 (1 bad lines, 2 not sendable), dropped 0\n"
        ),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pipe_handles_binary_garbage_without_panicking() {
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"m v=1\n\xff\xfe\x00 v=2\nm v=3")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(text(&out.stdout), "m v=1.0\nm v=3.0\n");
    assert!(text(&out.stderr).starts_with("telemit: line 2, column 1: not UTF-8"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn send_builds_a_reading_from_flags_or_a_line() {
    let out = telemit(
        &[
            "send",
            "-m",
            "job",
            "-t",
            "name=nightly import",
            "-f",
            "rows=1200i",
            "-f",
            "msg=\"done, ok\"",
            "-f",
            "p=0.75",
            "-f",
            "u=7u",
            "-f",
            "ok=true",
            "--timestamp",
            "1700000000",
            "--precision",
            "s",
        ],
        "",
    );
    assert_eq!(
        text(&out.stdout),
        "job,name=nightly\\ import rows=1200i,msg=\"done, ok\",p=0.75,u=7u,ok=true 1700000000\n"
    );
    assert_eq!(out.status.code(), Some(0));

    let out = telemit(
        &[
            "send",
            "weather,city=Oslo temperature=21.5",
            "--format",
            "wavefront",
        ],
        "",
    );
    assert_eq!(text(&out.stdout), "weather.temperature 21.5 city=Oslo\n");

    let out = telemit(&["send", "-m", "job", "-f", "x=hello"], "");
    assert_eq!(
        text(&out.stderr),
        "telemit: --field x=hello: invalid field value (not a number, boolean or quoted string): \"hello\"; quote strings, as in -f 'x=\"hello\"'\n"
    );
    assert_eq!(out.status.code(), Some(2));

    let out = telemit(&["send", "-m", "#m", "-f", "x=1"], "");
    assert_eq!(
        text(&out.stderr),
        "telemit: influx: measurement \"#m\" starts with '#', which makes Telegraf read the line as a comment\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_endpoints_are_usage_errors() {
    let out = telemit(&["pipe", "--to", "tcp://localhost"], "");
    assert!(
        text(&out.stderr)
            .contains("endpoint \"tcp://localhost\": missing port: expected tcp://host:port")
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_teaches() {
    let out = telemit(&["pipe", "--help"], "");
    let help = text(&out.stdout);
    for needle in [
        "--to <ENDPOINT>",
        "unixgram:///path",
        "--on-full",
        "drop-oldest",
        "--reopen-after",
        "--strict",
        "Examples:",
    ] {
        assert!(help.contains(needle), "pipe --help lacks {needle}");
    }
}

/// Waits for `path` to exist (a listener's socket), up to 5 s.
fn wait_for_socket(path: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn pipe_to_listen_counts_no_loss_and_sends_its_own_stats() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("t.sock");
    let to = format!("unix://{}", socket.display());
    let listen = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["listen", "--on", &to, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_socket(&socket);

    let mut pipe = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "pipe",
            "--seq",
            "--format",
            "json",
            "--to",
            &to,
            "--stats-interval",
            "100ms",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = pipe.stdin.take().unwrap();
    for i in 0..500 {
        writeln!(stdin, "job,host=a rows={i}i").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    drop(stdin);
    let piped = pipe.wait_with_output().unwrap();
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));

    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&listen, "-INT");
    let listened = listen.wait_with_output().unwrap();
    let stdout = text(&listened.stdout);
    let jobs = stdout
        .lines()
        .filter(|l| l.starts_with("job,host=a "))
        .count();
    assert_eq!(jobs, 500, "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("telemit ") && l.contains("readings_in=")),
        "--stats-interval readings arrive next to the data"
    );
    let report = text(&listened.stderr);
    assert!(
        report.contains("sequence up to 499: 500 distinct, 0 lost, 0 duplicated"),
        "{report}"
    );
}

#[test]
fn sigterm_flushes_what_was_read_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("t.sock");
    let receiver = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let to = format!("unix://{}", socket.display());
    let mut pipe = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--to", &to])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = pipe.stdin.take().unwrap();
    for i in 0..100 {
        writeln!(stdin, "m v={i}i").unwrap();
    }
    stdin.flush().unwrap();
    let (mut stream, _) = receiver.accept().unwrap();
    // stdin stays open: only the signal ends the run.
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&pipe, "-TERM");
    let out = pipe.wait_with_output().unwrap();
    drop(stdin);
    let mut received = String::new();
    std::io::Read::read_to_string(&mut stream, &mut received).unwrap();
    assert_eq!(received.lines().count(), 100);
    assert_eq!(
        text(&out.stderr),
        "telemit: interrupted: read 100 readings, wrote 100, rejected 0 (0 bad lines, 0 not sendable), dropped 0\n"
    );
    assert_eq!(out.status.code(), Some(0));
}
