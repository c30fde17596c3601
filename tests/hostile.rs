//! Hostile and odd input: each is refused or handled with a clear, counted error, bounded
//! memory, and no harm to the good readings around it.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use support::{Receiver, numbered};
use telemit::input::line_protocol::parse_line;
use telemit::{
    DropReason, Encoder, Endpoint, Format, Precision, Reading, SendError, Sender, Timestamp,
};

/// Sends `odd` between two good readings to a Unix receiver; the error for `odd`, and the
/// counters. The good ones must arrive.
fn between_good_readings(odd: &Reading, format: Format) -> (SendError, telemit::StatsSnapshot) {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let receiver = Receiver::start(&endpoint, format, false);
    let sender = Sender::builder(endpoint, Encoder::new(format))
        .start()
        .unwrap();
    sender.send(&numbered(0)).unwrap();
    let error = sender.send(odd).unwrap_err();
    sender.send(&numbered(1)).unwrap();
    let stats = sender.shutdown();
    assert_eq!(receiver.wait_for(2, Duration::from_secs(3)), 2);
    (error, stats)
}

#[test]
fn ten_thousand_tags_are_refused_as_oversize_and_counted() {
    let mut builder = Reading::builder("wide");
    for i in 0..10_000 {
        builder = builder.tag(format!("tag{i}"), format!("value{i}"));
    }
    let wide = builder.field("v", 1i64).build().unwrap();
    let (error, stats) = between_good_readings(&wide, Format::Influx);
    assert_eq!(
        error.to_string(),
        "reading of 177790 bytes is longer than the 65536-byte limit of a stream line in Telegraf"
    );
    assert_eq!(stats.dropped(DropReason::Oversize), 1);
    assert_eq!(stats.written, 2);
    // Without the line limit (standard output) it encodes, and parses back whole.
    let mut line = Vec::new();
    Encoder::new(Format::Influx)
        .encode(&wide, &mut line)
        .unwrap();
    let text = std::str::from_utf8(&line).unwrap().trim_end();
    assert_eq!(
        parse_line(text, Precision::Nanoseconds).unwrap().unwrap(),
        wide
    );
}

#[test]
fn a_one_megabyte_string_is_refused_as_oversize_in_every_format() {
    let long = Reading::builder("log")
        .field("message", "x".repeat(1 << 20))
        .build()
        .unwrap();
    for format in [Format::Influx, Format::Json] {
        let (error, stats) = between_good_readings(&long, format);
        assert!(
            matches!(error, SendError::Oversize { len, .. } if len > 1 << 20),
            "{format}: {error}"
        );
        assert_eq!(stats.dropped(DropReason::Oversize), 1, "{format}");
    }
}

/// One character of each Unicode general category that a Rust string can hold (surrogates
/// cannot), in names and values.
const UNICODE_CLASSES: &[(&str, char)] = &[
    ("Lu", 'Ä'),
    ("Ll", 'ß'),
    ("Lt", 'ǅ'),
    ("Lm", 'ʰ'),
    ("Lo", '語'),
    ("Mn", '\u{0301}'),
    ("Mc", '\u{0903}'),
    ("Me", '\u{20DD}'),
    ("Nd", '٣'),
    ("Nl", 'Ⅻ'),
    ("No", '½'),
    ("Pc", '‿'),
    ("Pd", '—'),
    ("Ps", '「'),
    ("Pe", '」'),
    ("Pi", '«'),
    ("Pf", '»'),
    ("Po", '¿'),
    ("Sm", '∑'),
    ("Sc", '€'),
    ("Sk", '˜'),
    ("So", '🦀'),
    ("Zs", '\u{00A0}'),
    ("Zl", '\u{2028}'),
    ("Zp", '\u{2029}'),
    ("Cf", '\u{200D}'),
    ("Co", '\u{E000}'),
    ("Cn", '\u{0378}'),
    ("Cc", '\u{0007}'),
];

#[test]
fn names_with_every_unicode_class_round_trip_or_are_refused_clearly() {
    for (class, c) in UNICODE_CLASSES {
        let built = Reading::builder(format!("m{c}m"))
            .tag(format!("t{c}t"), format!("v{c}v"))
            .field(format!("f{c}f"), format!("s{c}s"))
            .build();
        let reading = match built {
            Ok(reading) => reading,
            Err(error) => {
                // Only control characters are refused, and the error says which and where.
                assert_eq!(*class, "Cc", "{class} U+{:04X}: {error}", *c as u32);
                assert!(error.to_string().contains("control character"), "{error}");
                continue;
            }
        };
        for format in [Format::Influx, Format::Json, Format::Wavefront] {
            let mut out = Vec::new();
            match Encoder::new(format).encode(&reading, &mut out) {
                Ok(()) => assert!(out.ends_with(b"\n")),
                // Wavefront cannot carry string values: a clear refusal, not a panic.
                Err(error) => assert_eq!(format, Format::Wavefront, "{class}: {error}"),
            }
            if format == Format::Influx {
                let text = std::str::from_utf8(&out).unwrap().trim_end_matches('\n');
                let again = parse_line(text, Precision::Nanoseconds).unwrap().unwrap();
                assert_eq!(again, reading, "{class} U+{:04X}", *c as u32);
            }
        }
    }
}

#[test]
fn timestamps_at_the_bounds_of_i64_encode_or_are_refused_with_the_reason() {
    let at = |value: i64, precision: Precision| {
        Reading::builder("t")
            .field("v", 1i64)
            .timestamp(Timestamp::new(value, precision))
            .build()
            .unwrap()
    };
    let ns = Encoder::new(Format::Influx);
    let mut out = Vec::new();
    ns.encode(&at(i64::MAX, Precision::Nanoseconds), &mut out)
        .unwrap();
    assert_eq!(out, b"t v=1i 9223372036854775807\n");
    out.clear();
    ns.encode(&at(i64::MIN, Precision::Nanoseconds), &mut out)
        .unwrap();
    assert_eq!(out, b"t v=1i -9223372036854775808\n");
    for precision in [Precision::Seconds, Precision::Milliseconds] {
        let error = ns
            .encode(&at(i64::MAX, precision), &mut Vec::new())
            .unwrap_err();
        assert!(
            error.to_string().contains("timestamp"),
            "{precision:?}: {error}"
        );
    }
    // Wavefront has whole seconds only, and no negative ones.
    let error = Encoder::new(Format::Wavefront)
        .encode(&at(i64::MIN, Precision::Nanoseconds), &mut Vec::new())
        .unwrap_err();
    assert!(error.to_string().contains("timestamp"), "{error}");
}

#[test]
fn a_100_megabyte_stdin_line_is_skipped_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let receiver = Receiver::start(&endpoint, Format::Influx, false);
    let mut child = support::spawn_pipe(&endpoint);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        stdin.write_all(b"ok seq=0u\nbig,a=b v=\"").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(b"\" 2\nok seq=1u\n").unwrap();
    });
    let mut stderr = child.stderr.take().unwrap();
    let (code, peak) = support::wait_with_peak_rss(child);
    feeder.join().unwrap();
    let mut errors = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut errors).unwrap();
    assert_eq!(code, 1, "a rejected line makes the exit status 1: {errors}");
    assert!(
        errors.contains("line 2: longer than 1048576 bytes (104857614 bytes); skipped"),
        "{errors}"
    );
    assert_eq!(receiver.wait_for(2, Duration::from_secs(3)), 2);
    let mib = peak as f64 / (1024.0 * 1024.0);
    assert!(mib < 20.0, "peak RSS {mib:.1} MiB for a 100 MB line");
}

#[test]
fn unix_socket_paths_that_cannot_work_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let regular = dir.path().join("not-a-socket");
    std::fs::write(&regular, "").unwrap();
    let too_long = dir.path().join("x".repeat(120));
    for (path, reason) in [
        (&regular, "Connection refused"),
        (&too_long, "path must be shorter than SUN_LEN"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
            .args(["send", "m v=1", "--flush-timeout", "300ms"])
            .args(["--to", &format!("unix://{}", path.display())])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{}: ", path.display())) && stderr.contains(reason),
            "{stderr}"
        );
    }
    // listen refuses to replace a file that is not a socket.
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["listen", "--on", &format!("unix://{}", regular.display())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&regular.display().to_string()), "{stderr}");
}

#[test]
fn a_unix_socket_without_permission_is_named_with_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("telegraf.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Root ignores file permissions: run telemit as nobody then, from a copy it may execute.
    let binary = dir.path().join("telemit");
    std::fs::copy(env!("CARGO_BIN_EXE_telemit"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary);
        c
    } else {
        Command::new(&binary)
    };
    let out = command
        .args(["send", "m v=1", "--flush-timeout", "300ms"])
        .args(["--to", &format!("unix://{}", socket.display())])
        .output()
        .expect("setpriv (util-linux) runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: Permission denied", socket.display())),
        "{stderr}"
    );
    // Said at once, with the fix, rather than after the flush timeout.
    assert!(stderr.contains("the reading was not delivered"), "{stderr}");
    assert!(stderr.contains("socket_mode"), "{stderr}");
}

/// Runs telemit with `args`, `stdin` on standard input; (exit code, stdout, stderr).
fn run_telemit(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let out =
        support::processes::run_telemit(args, &[], stdin.as_bytes(), std::process::Stdio::piped());
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_tag_the_format_cannot_send_is_a_usage_error_before_any_input() {
    let map = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/binance-kline.toml");
    let influx = "telemit: --tag dir=C:\\: influx: value of tag \"dir\" \"C:\\\\\" ends in a backslash, which Telegraf would read as an escape\n";
    let commands: [&[&str]; 4] = [
        &["send", "-m", "m", "-f", "v=1"],
        &["pipe"],
        &["ws", "ws://127.0.0.1:9/", "--map", map],
        &["bench", "--count", "1"],
    ];
    for command in commands {
        let args = [command, &["-t", "dir=C:\\"]].concat();
        let (code, stdout, stderr) = run_telemit(&args, "m v=1\n");
        assert_eq!(code, Some(2), "{command:?}: {stderr}");
        assert_eq!(stdout, "", "{command:?}: nothing is read or sent");
        assert_eq!(stderr, influx, "{command:?}");
    }
    let cases: [(&str, &str, &str); 3] = [
        (
            "wavefront",
            "dir=C:\\",
            "telemit: --tag dir=C:\\: wavefront: value of tag \"dir\" \"C:\\\\\" ends in a backslash, which Telegraf would read as an escape\n",
        ),
        (
            "wavefront",
            "k=a\"b",
            "telemit: --tag k=a\"b: wavefront: value of tag \"k\" \"a\\\"b\" contains '\"' without a backslash right before it, which ends a quoted text in Telegraf's Wavefront parser\n",
        ),
        (
            "json",
            "time=now",
            "telemit: --tag time=now: json: tag key \"time\" is the key the JSON object uses for the time\n",
        ),
    ];
    for (format, tag, message) in cases {
        let (code, stdout, stderr) =
            run_telemit(&["pipe", "--format", format, "-t", tag], "m v=1\n");
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (Some(2), "", message)
        );
    }
    // The same tag where the format can carry it: sent.
    let (code, stdout, stderr) = run_telemit(
        &["pipe", "--format", "json", "-t", "dir=C:\\", "--quiet"],
        "m v=1 1700000000000000000\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "{\"measurement\":\"m\",\"dir\":\"C:\\\\\",\"v\":1.0,\"time\":\"1700000000000000000\"}\n"
    );
}

/// The misreads Telegraf's parsers showed, from the command line: the bytes now written.
#[test]
fn what_telegraf_misread_is_written_so_that_it_reads_it_back() {
    let cases: [(&[&str], &str); 6] = [
        // Telegraf reads `a\\"b\ c` as `a\"b c` (it read `a\"b\ c`, written before, as `a"b c`).
        (&["-m", "m", "-f", "a\\\"b c=1"], "m a\\\\\"b\\ c=1.0\n"),
        // Representable, refused before.
        (
            &["-m", "m", "-t", "k=a b\\\"", "-f", "v=1"],
            "m,k=a\\ b\\\\\" v=1.0\n",
        ),
        // A key Telegraf would take for a timestamp, quoted.
        (
            &[
                "-m",
                "job",
                "-t",
                "5xx=12",
                "-f",
                "value=1",
                "--format",
                "wavefront",
            ],
            "job 1.0 \"5xx\"=12\n",
        ),
        // Ten digits, zero-padded.
        (
            &[
                "-m",
                "m",
                "-f",
                "value=1",
                "--format",
                "wavefront",
                "--timestamp",
                "946684799",
                "--precision",
                "s",
            ],
            "m 1.0 0946684799\n",
        ),
        // Before 1970, truncated toward zero as Telegraf divides.
        (
            &[
                "-m",
                "m",
                "-f",
                "v=1",
                "--timestamp",
                "-1500",
                "--precision",
                "ms",
            ],
            "m v=1.0 -1500\n",
        ),
        (&["m v=1 -1500000000"], "m v=1.0 -1500000000\n"),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = run_telemit(&[&["send"], args].concat(), "");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stdout, expected, "{args:?}");
    }
    let (code, stdout, stderr) = run_telemit(
        &[
            "pipe",
            "--input-precision",
            "ms",
            "--precision",
            "s",
            "--quiet",
        ],
        "m v=1 -1500\nm v=1 1999\n",
    );
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "m v=1.0 -1\nm v=1.0 1\n"),
        "{stderr}"
    );
}

#[test]
fn timestamps_that_telegraf_would_wrap_are_refused() {
    let wraps = "is outside 1677-09-21..2262-04-11, the signed 64-bit nanosecond range; Telegraf's conversion to nanoseconds would wrap";
    let cases: [(&[&str], String); 4] = [
        (
            &[
                "-m",
                "a",
                "-f",
                "v=1",
                "--timestamp",
                "99999999999",
                "--precision",
                "s",
            ],
            format!("telemit: influx: timestamp \"99999999999s\" {wraps}\n"),
        ),
        (
            &["a v=1 1700000000123456789", "--precision", "ms"],
            format!("telemit: influx: timestamp \"1700000000123456789ms\" {wraps}\n"),
        ),
        (
            &[
                "a v=1 10000000000",
                "--precision",
                "s",
                "--format",
                "wavefront",
            ],
            format!("telemit: wavefront: timestamp \"10000000000s\" {wraps}\n"),
        ),
        (
            &["a v=1 -1", "--precision", "s", "--format", "wavefront"],
            "telemit: wavefront: timestamp \"-1s\" is before 1970, which Wavefront cannot carry\n"
                .to_owned(),
        ),
    ];
    for (args, message) in cases {
        let (code, stdout, stderr) = run_telemit(&[&["send"], args].concat(), "");
        assert_eq!((code, stdout.as_str()), (Some(2), ""), "{args:?}: {stderr}");
        // The refusal is the last word (a warning about the timestamp may come before it).
        assert!(stderr.ends_with(&message), "{args:?}: {stderr}");
    }
}
