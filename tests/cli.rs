//! The `telemit` binary as a user runs it: stdout, stderr, exit status.

use std::io::Write;
use std::process::{Command, Output, Stdio};

#[allow(dead_code)]
#[path = "support/processes.rs"]
mod processes;

fn telemit(args: &[&str], stdin: &str) -> Output {
    processes::run_telemit(args, &[], stdin.as_bytes(), Stdio::piped())
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
         telemit: read 5 lines, wrote 3 readings, rejected 2 lines (2 bad, 0 not sendable), dropped 0\n"
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
        "telemit: stopped at the first bad line (--strict): read 2 lines, wrote 1 reading, rejected 1 line (1 bad, 0 not sendable), dropped 0\n"
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
            "read 4 lines, wrote 1 reading, rejected 3 lines (1 bad, 2 not sendable), dropped 0\n"
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
    // Reads to the end and closes, as Telegraf does: the close at exit is confirmed.
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = receiver.accept().unwrap();
        let mut received = String::new();
        std::io::Read::read_to_string(&mut stream, &mut received).unwrap();
        received
    });
    // stdin stays open: only the signal ends the run.
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&pipe, "-TERM");
    let out = pipe.wait_with_output().unwrap();
    drop(stdin);
    let received = reader.join().unwrap();
    assert_eq!(received.lines().count(), 100);
    assert_eq!(
        text(&out.stderr),
        "telemit: interrupted: read 100 lines, wrote 100 readings, rejected 0 lines (0 bad, 0 not sendable), dropped 0\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn pipe_reads_keys_and_escapes_as_telegraf_does() {
    let input = "cpu,host=a,host=b v=1,v=2i 1700000000000000000\n\
                 m a\\\"b\\ c=1 1700000000000000000\n\
                 a\\\\ b v=1\n\
                 m a\\\\=b=1\n\
                 m,k=x v=1,v=2 1700000000000000000\n";
    let out = telemit(&["pipe"], input);
    assert_eq!(
        text(&out.stdout),
        "cpu,host=b v=2i 1700000000000000000\n\
         m a\"b\\ c=1.0 1700000000000000000\n\
         m,k=x v=2.0 1700000000000000000\n"
    );
    assert_eq!(
        text(&out.stderr),
        "telemit: line 3, column 6: expected '=' after the field key, found ' ': \"a\\\\\\\\ b v=1\"\n\
         telemit: line 4, column 7: invalid field value (not a number, boolean or quoted string): \"b=1\": \"m a\\\\\\\\=b=1\"\n\
         telemit: read 5 lines, wrote 3 readings, rejected 2 lines (2 bad, 0 not sendable), dropped 0; 2 readings had a key given twice, collapsed to its last value as Telegraf does\n"
    );
}

#[test]
fn pipe_skips_a_byte_order_mark_once() {
    let out = telemit(
        &["pipe"],
        "\u{feff}cpu v=1 1700000000000000000\n\u{feff}cpu v=2\n",
    );
    assert_eq!(
        text(&out.stdout),
        "cpu v=1.0 1700000000000000000\n\u{feff}cpu v=2.0\n"
    );
    let out = telemit(
        &["pipe", "--input", "json"],
        "\u{feff}{\"name\":\"cpu\",\"fields\":{\"v\":1}}\n",
    );
    assert_eq!(text(&out.stdout), "cpu v=1i\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn pipe_reads_telegrafs_flat_json() {
    let input = "{\"measurement\":\"sensor\",\"room\":\"lab\",\"host\":\"h1\",\"temp\":21.5,\"ok\":true,\"n\":2}\n\
                 {\"measurement\":\"sensor\",\"room\":\"lab\",\"temp\":22,\"time\":1480843720}\n";
    let out = telemit(&["pipe", "--input", "json"], input);
    assert_eq!(
        text(&out.stdout),
        "sensor,host=h1 n=2.0,temp=21.5\n\
         sensor temp=22.0 1480843720\n"
    );
    assert_eq!(
        text(&out.stderr),
        "telemit: line 1: dropped ok, room (strings and booleans not matched by --tag-keys or --json-string-fields, as Telegraf's json parser drops them; said once)\n\
         telemit: line 2: timestamp 1480843720 read as nanoseconds is more than 20 years from now; looks like seconds: use --input-precision s (said once)\n\
         telemit: read 2 lines, wrote 2 readings, rejected 0 lines (0 bad, 0 not sendable), dropped 0\n"
    );
    // Telegraf's option names, glob patterns, and the number type kept on request.
    let out = telemit(
        &[
            "pipe",
            "--input",
            "json",
            "--input-precision",
            "s",
            "--precision",
            "s",
            "--json-name-key",
            "kind",
            "--json-time-key",
            "ts",
            "--tag-keys",
            "ro*,host",
            "--json-string-fields",
            "o?",
            "--json-numbers",
            "auto",
        ],
        "{\"kind\":\"sensor\",\"room\":\"lab\",\"ok\":true,\"n\":2,\"f\":2.5,\"ts\":1480843720}\n",
    );
    assert_eq!(
        text(&out.stdout),
        "sensor,room=lab f=2.5,n=2i,ok=true 1480843720\n"
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn json_numbers_float_keeps_one_type_per_field() {
    // The flat shape cannot tell 2 from 2.0: floats by default, so 2 then 2.5 do not flip.
    let flat = "{\"measurement\":\"m\",\"v\":2}\n{\"measurement\":\"m\",\"v\":2.5}\n";
    let out = telemit(&["pipe", "--input", "json"], flat);
    assert_eq!(text(&out.stdout), "m v=2.0\nm v=2.5\n");
    let out = telemit(&["pipe", "--input", "json", "--json-numbers", "auto"], flat);
    assert_eq!(text(&out.stdout), "m v=2i\nm v=2.5\n");
    // The nested shape keeps the number's type unless asked otherwise.
    let nested = "{\"name\":\"m\",\"fields\":{\"v\":2}}\n";
    let out = telemit(&["pipe", "--input", "json"], nested);
    assert_eq!(text(&out.stdout), "m v=2i\n");
    let out = telemit(
        &["pipe", "--input", "json", "--json-numbers", "float"],
        nested,
    );
    assert_eq!(text(&out.stdout), "m v=2.0\n");
}

#[test]
fn implausible_timestamps_are_named_once_with_the_unit_that_fits() {
    let out = telemit(&["pipe"], "m v=1 1700000000000\nm v=2 1700000000001\n");
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().next().unwrap(),
        "telemit: line 1: timestamp 1700000000000 read as nanoseconds is more than 20 years from now; looks like milliseconds: use --input-precision ms (said once)"
    );
    assert_eq!(stderr.matches("said once").count(), 1, "{stderr}");
    // auto picks the unit per timestamp by its magnitude.
    let out = telemit(
        &["pipe", "--input-precision", "auto"],
        "m v=1 1700000000\nm v=2 1700000000123\nm v=3 1700000000123456\nm v=4 1700000000123456789\n",
    );
    assert_eq!(
        text(&out.stdout),
        "m v=1.0 1700000000000000000\n\
         m v=2.0 1700000000123000000\n\
         m v=3.0 1700000000123456000\n\
         m v=4.0 1700000000123456789\n"
    );
    assert!(
        !text(&out.stderr).contains("said once"),
        "{}",
        text(&out.stderr)
    );
    let out = telemit(
        &[
            "send",
            "-m",
            "m",
            "-f",
            "v=1",
            "--timestamp",
            "1700000000000",
        ],
        "",
    );
    assert_eq!(
        text(&out.stderr),
        "telemit: timestamp 1700000000000 read as nanoseconds is more than 20 years from now; looks like milliseconds: use --precision ms\n"
    );
    assert_eq!(text(&out.stdout), "m v=1.0 1700000000000\n");
}

/// `listen` on a Unix stream socket, fed `payload`, stopped; its stdout and stderr.
fn listen_to(args: &[&str], payload: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("l.sock");
    let on = format!("unix://{}", socket.display());
    let mut all = vec!["listen", "--on", on.as_str()];
    all.extend_from_slice(args);
    let listen = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_socket(&socket);
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.write_all(payload.as_bytes()).unwrap();
    drop(stream);
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&listen, "-INT");
    let out = listen.wait_with_output().unwrap();
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn listen_json_keeps_only_what_telegraf_keeps() {
    let payload = "{\"measurement\":\"sensor\",\"host\":\"h1\",\"room\":\"lab\",\"ok\":true,\"temp\":21,\"time\":1700000000000000000}\n\
                   {\"measurement\":\"sensor\",\"temp\":21}\n";
    let (stdout, stderr) = listen_to(&["--format", "json"], payload);
    assert_eq!(stdout, "sensor,host=h1 temp=21.0 1700000000000000000\n");
    assert!(
        stderr.contains("rejected: JSON time key \"time\" could not be found"),
        "{stderr}"
    );
    let (stdout, _) = listen_to(
        &[
            "--format",
            "json",
            "--tag-keys",
            "room",
            "--json-string-fields",
            "ok,h*",
        ],
        payload,
    );
    assert_eq!(
        stdout,
        "sensor,room=lab host=\"h1\",ok=true,temp=21.0 1700000000000000000\n"
    );
}

#[test]
fn listen_reads_wavefront_as_telegraf_does() {
    let payload = "m.v 1.0 0\nm.v 1.0 1k=x\nm.v 1.0 100000000\nm.v 2.0 0946684799 \"5xx\"=12\n";
    let (stdout, stderr) = listen_to(&["--format", "wavefront"], payload);
    assert_eq!(
        stdout,
        "m.v value=1.0\nm.v,5xx=12 value=2.0 946684799000000000\n"
    );
    assert!(
        stderr.contains("rejected: column 9: invalid timestamp \"1\" (1 digits)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rejected: column 9: invalid timestamp \"100000000\" (9 digits)"),
        "{stderr}"
    );
}

#[test]
fn listen_names_implausible_timestamps_once() {
    let (stdout, stderr) = listen_to(&[], "m v=1 1700000000\nm v=2 1700000001\n");
    assert_eq!(stdout, "m v=1.0 1700000000\nm v=2.0 1700000001\n");
    assert_eq!(
        stderr.matches("timestamp 1700000000 read as nanoseconds is more than 20 years from now; looks like seconds: use --precision s (said once)").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn an_empty_wavefront_source_is_a_usage_error_before_any_input() {
    let out = telemit(
        &["pipe", "--format", "wavefront", "--wavefront-source", ""],
        "cpu a=1\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("--wavefront-source is empty"),
        "{}",
        text(&out.stderr)
    );
    let out = telemit(
        &["pipe", "--format", "wavefront", "--wavefront-source", "h1"],
        "cpu a=1\n",
    );
    assert_eq!(text(&out.stdout), "cpu.a 1.0 source=h1\n");
}

#[test]
fn a_fractional_json_time_keeps_its_fraction_in_any_input_unit() {
    for (precision, time, nanos) in [
        ("s", "1700000000.5", "1700000000500000000"),
        ("s", "1700000000.0", "1700000000000000000"),
        ("ms", "1700000000500.25", "1700000000500250000"),
    ] {
        let input = format!("{{\"measurement\":\"s\",\"time\":{time},\"v\":2}}\n");
        let out = telemit(
            &[
                "pipe",
                "--input",
                "json",
                "--input-precision",
                precision,
                "--to",
                "-",
            ],
            &input,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("s v=2.0 {nanos}\n"),
            "{precision} {time}"
        );
    }
}
