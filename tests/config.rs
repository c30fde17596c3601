//! Settings from a file (`--config`), from `TELEMIT_*` variables and from flags, run through the
//! binary: the precedence flags > environment > file, every command's options in a file,
//! `telemit config check`, the errors for bad keys and values, Telegraf's spellings
//! (`tcp://:8094`, `1ms`, `64KiB`, `1m30s`), and the deployment examples against the Telegraf
//! config they feed.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "support/processes.rs"]
mod processes;

/// `telemit args…` with `env` set and no other `TELEMIT_*` variable, `stdin` written to it.
fn telemit(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    processes::run_telemit(args, env, stdin.as_bytes(), Stdio::piped())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

const LINE: &str = "cpu,host=a v=1 1700000000123456789\n";

/// A pipe config with a list (tags as a table), a boolean, an enum and Telegraf's spellings.
const PIPE_FILE: &str = r#"# a pipe to standard output
to = "-"
format = "json"
precision = "1ms"
tag = { region = "eu", zone = "b" }
add_timestamp = true
flush_timeout = "1m30s"
spool_max = "500MB"
"#;

#[test]
fn a_file_alone_sets_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pipe.toml", PIPE_FILE);
    let out = telemit(&["pipe", "--config", &file], &[], LINE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"measurement\":\"cpu\",\"host\":\"a\",\"region\":\"eu\",\"zone\":\"b\",\"v\":1.0,\"time\":\"1700000000123\"}\n"
    );
    // --config may also come before the command, and from TELEMIT_CONFIG.
    let before = telemit(&["--config", &file, "pipe"], &[], LINE);
    assert_eq!(before.stdout, out.stdout, "{}", text(&before.stderr));
    let from_env = telemit(&["pipe"], &[("TELEMIT_CONFIG", &file)], LINE);
    assert_eq!(from_env.stdout, out.stdout, "{}", text(&from_env.stderr));

    // A file that names its command runs without one on the command line.
    let named = write(
        dir.path(),
        "named.toml",
        &format!("command = \"pipe\"\n{PIPE_FILE}"),
    );
    let alone = telemit(&["--config", &named], &[], LINE);
    assert_eq!(alone.stdout, out.stdout, "{}", text(&alone.stderr));
    let alone = telemit(&[], &[("TELEMIT_CONFIG", &named)], LINE);
    assert_eq!(alone.stdout, out.stdout, "{}", text(&alone.stderr));
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pipe.toml", PIPE_FILE);
    let out = telemit(
        &["pipe", "--config", &file],
        &[
            ("TELEMIT_FORMAT", "influx"),
            ("TELEMIT_PRECISION", "1s"),
            // A list from the environment replaces the file's list whole.
            ("TELEMIT_TAG", "dc=west"),
        ],
        LINE,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "cpu,host=a,dc=west v=1.0 1700000000\n");

    // A boolean the file turns on, the environment turns off (1/0, yes/no, on/off, true/false).
    for off in ["0", "false", "no", "off"] {
        let out = telemit(
            &["pipe", "--config", &file, "--format", "influx"],
            &[("TELEMIT_ADD_TIMESTAMP", off)],
            "cpu v=1\n",
        );
        assert_eq!(
            text(&out.stdout),
            "cpu,region=eu,zone=b v=1.0\n",
            "TELEMIT_ADD_TIMESTAMP={off}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn flags_override_the_environment_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pipe.toml", PIPE_FILE);
    let env = [
        ("TELEMIT_FORMAT", "json"),
        ("TELEMIT_TAG", "dc=west"),
        ("TELEMIT_ADD_TIMESTAMP", "true"),
    ];
    let out = telemit(
        &[
            "pipe",
            "--config",
            &file,
            "--format",
            "influx",
            "-t",
            "rack=r1",
            "-t",
            "row=7",
            "--precision=ns",
        ],
        &env,
        LINE,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "cpu,host=a,rack=r1,row=7 v=1.0 1700000000123456789\n"
    );

    // --add-timestamp=false turns off what both the file and the environment turn on;
    // a bare --add-timestamp turns on what the environment turns off.
    let out = telemit(
        &[
            "pipe",
            "--config",
            &file,
            "--format",
            "influx",
            "--add-timestamp=false",
        ],
        &env,
        "cpu v=1\n",
    );
    assert_eq!(
        text(&out.stdout),
        "cpu,dc=west v=1.0\n",
        "{}",
        text(&out.stderr)
    );
    let out = telemit(
        &[
            "pipe",
            "--format",
            "influx",
            "--add-timestamp",
            "--precision",
            "s",
        ],
        &[("TELEMIT_ADD_TIMESTAMP", "0")],
        "cpu v=1\n",
    );
    let line = text(&out.stdout);
    let stamp: i64 = line
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a timestamp at the end of {line:?}"));
    assert!(stamp > 1_700_000_000, "{line}");
}

/// A valid value for every option key of every command, as TOML.
fn sample(command: &str, key: &str) -> Option<&'static str> {
    Some(match (command, key) {
        ("map", "input") => r#""messages.jsonl""#,
        ("demo", "to") => r#""udp://:8094""#,
        (_, "to") => r#""tcp://:8094""#,
        (_, "on") => r#""udp://:8094""#,
        (_, "format") => r#""json""#,
        (_, "precision") => r#""1ms""#,
        (_, "add_timestamp" | "bool_as_number" | "gzip" | "quiet" | "strict" | "seq" | "json") => {
            "true"
        }
        (_, "tag") => r#"{ host = "a", region = "eu" }"#,
        (_, "field") => r#"{ v = "1i", w = 2.5 }"#,
        (_, "header") => r#"{ Authorization = "Bearer x" }"#,
        (_, "wavefront_source") => r#""src""#,
        (_, "json_name_key") => r#""name""#,
        (_, "json_time_key") => r#""ts""#,
        (_, "log_format") => r#""json""#,
        (_, "queue_size") => "500",
        (_, "on_full") => r#""drop-newest""#,
        (_, "reopen_after") => "100",
        (_, "max_datagram") => r#""1KiB""#,
        (_, "flush_timeout") => r#""1m30s""#,
        (_, "backoff_min") => r#""50ms""#,
        (_, "backoff_max") => r#""2s""#,
        (_, "send_buffer" | "read_buffer_size") => r#""64KiB""#,
        (_, "stats_interval") => r#""10s""#,
        (_, "spool") => r#""/var/lib/telemit/spool""#,
        (_, "spool_max") => r#""500MB""#,
        (_, "tls_ca" | "tls_allowed_cacerts" | "ca_file") => r#""ca.pem""#,
        (_, "tls_cert") => r#""cert.pem""#,
        (_, "tls_key") => r#""key.pem""#,
        (_, "tls_server_name") => r#""telegraf""#,
        (_, "input") => r#""json""#,
        (_, "input_precision") => r#""1us""#,
        (_, "tag_keys") => r#"["host", "region"]"#,
        (_, "json_string_fields") => r#"["msg"]"#,
        (_, "json_numbers") => r#""auto""#,
        (_, "max_line" | "max_message_size") => r#""2MiB""#,
        (_, "metrics_listen") => r#""127.0.0.1:9273""#,
        (_, "measurement") => r#""m""#,
        (_, "line") => r#""m v=1""#,
        (_, "timestamp") => "1700000000",
        (_, "seq_field") => r#""n""#,
        (_, "content_encoding") => r#""gzip""#,
        (_, "duration") => r#""1m30s""#,
        (_, "url") => r#""wss://stream.example.com/ws""#,
        (_, "map") => r#""mapping.toml""#,
        (_, "subscribe") => r#"['{"method":"SUBSCRIBE","id":1}']"#,
        (_, "ping_interval") => r#""20s""#,
        (_, "silence_timeout") => r#""1m""#,
        (_, "rate") => "1000",
        (_, "count") => "100",
        (_, "tags" | "fields") => "2",
        (_, "show") => "3",
        _ => return None,
    })
}

/// A valid value for an option known only by its value name in `--help` (an option added
/// after the table above): by the kind of value it takes.
fn sample_by_kind(value_name: &str) -> Option<&'static str> {
    Some(match value_name {
        "DURATION" => r#""1m30s""#,
        "N" | "READINGS" => "5",
        "BYTES" | "SIZE" => r#""64KiB""#,
        "FILE" | "DIR" | "PATH" => r#""/tmp/telemit-sample""#,
        "ENDPOINT" => r#""tcp://:8094""#,
        "KEY=VALUE" => r#"{ k = "v" }"#,
        "NAME:VALUE" => r#"{ X-Sample = "v" }"#,
        "BOOL" => "true",
        "ADDR" => r#""127.0.0.1:9273""#,
        "NAME" | "KEY" | "FIELD" | "TOKEN" | "USER" | "USERNAME" | "PASSWORD" | "TEXT" => {
            r#""sample""#
        }
        _ => return None,
    })
}

/// The value name of each long flag of `command` in its `--help` (`flush_timeout` →
/// `DURATION`).
fn value_names(command: &str) -> Vec<(String, String)> {
    let out = telemit(&[command, "--help"], &[], "");
    text(&out.stdout)
        .lines()
        .filter_map(|line| {
            let flag = line.trim_start().split(", ").last()?.strip_prefix("--")?;
            let (long, rest) = flag.split_once(['[', ' ']).unwrap_or((flag, ""));
            let name = rest.split('<').nth(1)?.split('>').next()?;
            Some((long.replace('-', "_"), name.to_owned()))
        })
        .collect()
}

/// The option keys of `command`, as `config check` lists them for an empty file.
fn keys_of(command: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    // The required options given, so the check can resolve the rest.
    let required = match command {
        "ws" => "url = \"ws://h/\"\nmap = \"m.toml\"\n",
        "map" => "map = \"m.toml\"\n",
        "listen" => "on = \"udp://:8094\"\n",
        "send" => "line = \"m v=1\"\n",
        _ => "",
    };
    let file = write(dir.path(), "empty.toml", required);
    let out = telemit(&["config", "check", &file, command], &[], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{command}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("# telemit ") && !l.starts_with("command ="))
        .map(|l| {
            let l = l.trim_start_matches("# ");
            l.split([' ', ':']).next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn every_option_of_every_command_is_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["send", "pipe", "listen", "ws", "map", "demo", "bench"] {
        let keys = keys_of(command);
        assert!(keys.len() >= 5, "{command}: {keys:?}");
        let names = value_names(command);
        let mut file = format!("command = \"{command}\"\n");
        let mut lines = Vec::new();
        for key in &keys {
            let value = sample(command, key)
                .or_else(|| {
                    let (_, name) = names.iter().find(|(k, _)| k == key)?;
                    sample_by_kind(name)
                })
                .unwrap_or_else(|| {
                    panic!("no sample value for `{key}` of telemit {command}: add one to sample()")
                });
            file.push_str(&format!("{key} = {value}\n"));
            lines.push((key, file.lines().count()));
        }
        let path = write(dir.path(), &format!("{command}.toml"), &file);
        let out = telemit(&["config", "check", &path], &[], "");
        let report = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{command}: {}\n{file}",
            text(&out.stderr)
        );
        for (key, line) in lines {
            let entry = report
                .lines()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("{command}: {key} missing from\n{report}"));
            assert!(
                entry.ends_with(&format!("  # file, line {line}")),
                "{command}: {entry}"
            );
        }
    }
}

#[test]
fn config_check_prints_each_setting_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "listen.toml",
        "on = \"tcp://:8094\"\nformat = \"json\"\ntag_keys = [\"host\", \"dc\"]\n",
    );
    // Only `listen` takes `on`: the command is inferred.
    let out = telemit(
        &["config", "check", &file],
        &[("TELEMIT_FORMAT", "wavefront"), ("TELEMIT_QUIET", "yes")],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for expected in [
        format!(
            "# telemit listen: settings from {file}, the environment (TELEMIT_*) and the defaults"
        ),
        "command = \"listen\"".to_owned(),
        "on = \"tcp://:8094\"  # file, line 1".to_owned(),
        "format = \"wavefront\"  # environment TELEMIT_FORMAT".to_owned(),
        "quiet = true  # environment TELEMIT_QUIET".to_owned(),
        "json = false  # default".to_owned(),
        "tag_keys = [\"host\", \"dc\"]  # file, line 3".to_owned(),
        "seq_field = \"seq\"  # default".to_owned(),
        "# tls_cert: not set".to_owned(),
        "# duration: not set".to_owned(),
    ] {
        assert!(
            report.lines().any(|l| l == expected),
            "{expected:?} not in\n{report}"
        );
    }
    // The printed settings are themselves a valid file for the command.
    let again = write(dir.path(), "again.toml", &report);
    let out = telemit(&["config", "check", &again], &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("format = \"wavefront\"  # file, line "));

    // Keys several commands take: the command must be named.
    let shared = write(dir.path(), "shared.toml", "to = \"-\"\n");
    let out = telemit(&["config", "check", &shared], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("its keys fit `telemit send`, `telemit pipe`, `telemit ws`"),
        "{}",
        text(&out.stderr)
    );
    let out = telemit(&["config", "check", &shared, "pipe"], &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("to = \"-\"  # file, line 1"));

    // A file that lacks a required option says which.
    let ws = write(
        dir.path(),
        "ws.toml",
        "command = \"ws\"\nmap = \"m.toml\"\n",
    );
    let out = telemit(&["config", "check", &ws], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!("telemit: config {ws}: for `telemit ws`: not set: url (TELEMIT_URL)\n")
    );
}

#[test]
fn bad_keys_and_values_name_the_place_and_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 8] = [
        (
            "to = \"-\"\nflush_timout = \"5s\"\n",
            "pipe",
            "line 2, column 1: unknown key \"flush_timout\" for `telemit pipe` (did you mean \"flush_timeout\"?); its keys are to, format, precision,",
        ),
        (
            "  flush_timeout = \"5x\"\n",
            "pipe",
            "line 1, column 19: flush_timeout = \"5x\": \"5x\" is not a duration (unknown time unit \"x\"",
        ),
        (
            "format = \"xml\"\n",
            "pipe",
            "line 1, column 10: format = \"xml\": expected one of \"influx\", \"json\", \"wavefront\"",
        ),
        (
            "spool_max = \"12XB\"\n",
            "pipe",
            "line 1, column 13: spool_max = \"12XB\": \"12XB\" is not a size",
        ),
        (
            "gzip = \"yes\"\n",
            "pipe",
            "line 1, column 8: gzip = \"yes\": expected true or false",
        ),
        (
            "queue_size = [1, 2]\n",
            "pipe",
            "line 1, column 14: queue_size = [1, 2]: takes one value, not a list",
        ),
        (
            "map = \"m.toml\"\n",
            "pipe",
            "line 1, column 1: unknown key \"map\" for `telemit pipe`",
        ),
        (
            "command = \"ws\"\n",
            "pipe",
            "line 1, column 11: this file is for `telemit ws`, not `telemit pipe`",
        ),
    ];
    for (contents, command, expected) in cases {
        let file = write(dir.path(), "bad.toml", contents);
        let out = telemit(&[command, "--config", &file], &[], "");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{contents}: {stderr}");
        let expected = format!("telemit: config {file}, {expected}");
        assert!(stderr.starts_with(&expected), "{expected}\n{stderr}");
        assert!(out.stdout.is_empty());
        // config check reports the same problem.
        let out = telemit(&["config", "check", &file, command], &[], "");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).starts_with(&expected),
            "{}",
            text(&out.stderr)
        );
    }

    // A TOML syntax error: line and column from the TOML parser.
    let file = write(dir.path(), "syntax.toml", "to = \n");
    let out = telemit(&["pipe", "--config", &file], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "telemit: config {file}: TOML parse error at line 1, column 6"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = telemit(&["pipe", "--config", "/nonexistent/telemit.toml"], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("telemit: config /nonexistent/telemit.toml: No such file"),
        "{}",
        text(&out.stderr)
    );

    // A bad variable is named, with its text; a bad flag is named by clap, with its text.
    for (name, value, reason) in [
        (
            "TELEMIT_QUEUE_SIZE",
            "lots",
            "invalid digit found in string",
        ),
        ("TELEMIT_FLUSH_TIMEOUT", "3x", "\"3x\" is not a duration"),
        ("TELEMIT_GZIP", "maybe", "value was not a boolean"),
        (
            "TELEMIT_TO",
            "tcp:/h",
            "endpoint \"tcp:/h\": expected SCHEME://ADDRESS",
        ),
    ] {
        let out = telemit(&["pipe"], &[(name, value)], "");
        assert_eq!(out.status.code(), Some(2));
        let expected = format!("telemit: environment {name}={value:?}: {reason}");
        assert!(
            text(&out.stderr).starts_with(&expected),
            "{expected}\n{}",
            text(&out.stderr)
        );
    }
    let out = telemit(&["pipe", "--max-line", "12XB"], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("invalid value '12XB' for '--max-line <BYTES>': \"12XB\" is not a size"),
        "{}",
        text(&out.stderr)
    );
    // --help works whatever the file.
    let out = telemit(
        &["ws", "--config", "/nonexistent/ws.toml", "--help"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn telegrafs_precisions_sizes_and_durations() {
    // Precisions as Telegraf writes them (influx_timestamp_precision = "1ms").
    for (precision, stamp) in [
        ("1s", "1700000000"),
        ("1ms", "1700000000123"),
        ("1us", "1700000000123456"),
        ("1ns", "1700000000123456789"),
        ("ms", "1700000000123"),
    ] {
        let out = telemit(&["pipe", "--precision", precision], &[], LINE);
        assert_eq!(
            text(&out.stdout),
            format!("cpu,host=a v=1.0 {stamp}\n"),
            "{precision}: {}",
            text(&out.stderr)
        );
    }
    let out = telemit(
        &["pipe", "--input-precision", "1s", "--precision", "1ms"],
        &[],
        "cpu v=1 1700000000\n",
    );
    assert_eq!(text(&out.stdout), "cpu v=1.0 1700000000000\n");

    // Sizes: --max-line 1KiB is 1024 bytes.
    let long = |n: usize| format!("cpu s=\"{}\"\n", "x".repeat(n - 8));
    let input = format!("{}{}", long(1024), long(1025));
    let out = telemit(&["pipe", "--max-line", "1KiB"], &[], &input);
    assert_eq!(text(&out.stdout), long(1024), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rejected 1"),
        "{}",
        text(&out.stderr)
    );
    let out = telemit(&["pipe", "--max-line", "1kB", "--strict"], &[], &long(1001));
    assert_eq!(out.status.code(), Some(1), "1kB is 1000 bytes");

    // Durations as Go writes them (1m30s, 1.5s), or a bare number of seconds, as Telegraf
    // reads a number.
    for duration in ["1m30s", "90", "1.5s", "250ms", "2 min"] {
        let out = telemit(&["pipe", "--flush-timeout", duration], &[], LINE);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{duration}: {}",
            text(&out.stderr)
        );
    }
    let out = telemit(&["pipe", "--flush-timeout", "90x"], &[], LINE);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "invalid value '90x' for '--flush-timeout <DURATION>': \"90x\" is not a duration"
        ),
        "{}",
        text(&out.stderr)
    );
    // The value read is the one meant: a listener told to run 1s500ms ends after 1.5 s.
    let started = Instant::now();
    let out = telemit(
        &[
            "listen",
            "--on",
            "udp://127.0.0.1:0",
            "--duration",
            "1s500ms",
            "--quiet",
        ],
        &[],
        "",
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `listen --on tcp://:PORT` takes connections on every interface (127.0.0.2 included, which
/// a listener on 127.0.0.1 refuses), and `--to tcp://:PORT` connects to the local host.
#[test]
fn an_empty_host_listens_everywhere_and_sends_locally() {
    let port = free_port();
    let on = format!("tcp://:{port}");
    let listen = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["listen", "--on", &on, "--duration", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "listen did not bind {on}");
        std::thread::sleep(Duration::from_millis(20));
    }
    for (to, value) in [(on.clone(), 1), (format!("tcp://127.0.0.2:{port}"), 2)] {
        let out = telemit(
            &["send", "--to", &to, &format!("spelling,to=x v={value}i")],
            &[],
            "",
        );
        assert_eq!(out.status.code(), Some(0), "{to}: {}", text(&out.stderr));
    }
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&listen);
    let out = listen.wait_with_output().unwrap();
    let received = text(&out.stdout);
    for value in [1, 2] {
        assert!(
            received
                .lines()
                .any(|l| l == format!("spelling,to=x v={value}i")),
            "v={value} missing from {received:?}; {}",
            text(&out.stderr)
        );
    }
}

/// Ends `child` with SIGINT, as a user's Ctrl-C.
fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The systemd unit, the container example and the settings file they run with all feed the
/// socket that telegraf/binance-kline.conf listens on, with a mode that lets them write.
#[test]
fn the_deployment_examples_agree_with_the_telegraf_config() {
    let conf: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo("telegraf/binance-kline.conf")).unwrap())
            .unwrap();
    let listener = &conf["inputs"]["socket_listener"][0];
    let address = listener["service_address"].as_str().unwrap();
    let socket = address.strip_prefix("unix://").expect("a Unix socket");
    let socket_dir = Path::new(socket).parent().unwrap().to_str().unwrap();
    assert_eq!(
        listener["socket_mode"].as_str(),
        Some("0660"),
        "group-writable, not world-writable"
    );

    // The settings file: same socket, format and precision as the listener.
    let settings_text = std::fs::read_to_string(repo("examples/telemit-ws.toml")).unwrap();
    let settings: toml::Table = toml::from_str(&settings_text).unwrap();
    assert_eq!(settings["command"].as_str(), Some("ws"));
    assert_eq!(settings["to"].as_str(), Some(address));
    assert_eq!(
        settings["format"].as_str(),
        listener["data_format"].as_str()
    );
    assert_eq!(
        settings["precision"].as_str(),
        listener["influx_timestamp_precision"].as_str()
    );
    let out = telemit(
        &[
            "config",
            "check",
            repo("examples/telemit-ws.toml").to_str().unwrap(),
        ],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with(&format!("to = \"{address}\"  # file, line "))),
        "{}",
        text(&out.stdout)
    );

    // The systemd unit runs that file, and may reach the socket: not in its private /tmp, and
    // in the group the socket mode lets write.
    let unit = std::fs::read_to_string(repo("examples/telemit-ws.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    assert_eq!(
        exec,
        "/usr/local/bin/telemit ws --config /etc/telemit/ws.toml"
    );
    assert!(unit.contains("put\n# examples/telemit-ws.toml at /etc/telemit/ws.toml"));
    assert!(unit.contains(&format!(
        "examples/binance-kline.toml\n# at {}",
        settings["map"].as_str().unwrap()
    )));
    if unit.lines().any(|l| l == "PrivateTmp=yes") {
        assert!(
            !socket.starts_with("/tmp/"),
            "{socket} is hidden by PrivateTmp"
        );
    }
    assert!(unit.lines().any(|l| l == "SupplementaryGroups=telegraf"));

    // The image bakes in the same files, and points TELEMIT_CONFIG at the settings.
    let dockerfile = std::fs::read_to_string(repo("examples/container/Dockerfile")).unwrap();
    assert!(
        dockerfile
            .lines()
            .any(|l| l == "COPY examples/telemit-ws.toml /etc/telemit/ws.toml")
    );
    assert!(dockerfile.lines().any(|l| l
        == format!(
            "COPY examples/binance-kline.toml {}",
            settings["map"].as_str().unwrap()
        )));
    assert!(
        dockerfile
            .lines()
            .any(|l| l == "ENV TELEMIT_CONFIG=/etc/telemit/ws.toml")
    );

    // Compose: Telegraf reads this very config, both services share the socket's directory,
    // and telemit joins the group Telegraf runs as.
    let compose = std::fs::read_to_string(repo("examples/container/compose.yaml")).unwrap();
    // A service is its `  name:` line and the lines indented deeper, up to the next service
    // or top-level key.
    let service = |name: &str| -> String {
        let mut lines = compose
            .lines()
            .skip_while(|l| *l != format!("  {name}:"))
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "));
        let mut block = String::new();
        for line in lines.by_ref() {
            block.push_str(line);
            block.push('\n');
        }
        assert!(!block.is_empty(), "service {name}");
        block
    };
    let telegraf = service("telegraf");
    let telemit_service = service("telemit");
    assert!(
        telegraf.contains("- ../../telegraf/binance-kline.conf:/etc/telegraf/telegraf.conf:ro"),
        "{telegraf}"
    );
    let shared = format!("- telegraf-socket:{socket_dir}\n");
    assert!(telegraf.contains(&shared), "{telegraf}");
    assert!(telemit_service.contains(&shared), "{telemit_service}");
    assert!(telemit_service.contains("TELEMIT_CONFIG: /etc/telemit/ws.toml"));
    let gid = telegraf
        .lines()
        .find_map(|l| l.trim().strip_prefix("user: \""))
        .and_then(|u| u.trim_end_matches('"').split(':').nth(1))
        .expect("Telegraf's user: \"uid:gid\"")
        .to_owned();
    assert!(
        telemit_service.contains(&format!("group_add:\n      - \"{gid}\"")),
        "{telemit_service}"
    );
    assert!(compose.contains(&format!("gid={gid},mode=0750")));
}

#[test]
fn a_file_that_never_ends_or_is_not_utf8_is_refused_with_its_place() {
    let started = Instant::now();
    let out = telemit(&["config", "check", "/dev/zero", "pipe"], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/dev/zero: longer than 1048576 bytes"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"to = \"-\"\nformat = \"caf\xe9\"\n").unwrap();
    let out = telemit(&["config", "check", path.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 2, column 14 (byte 22): not UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_empty_config_variable_says_what_is_wrong() {
    let out = telemit(&["pipe", "--to", "-"], &[("TELEMIT_CONFIG", "")], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(!stderr.trim_end().ends_with("expected one of"), "{stderr}");
    assert!(stderr.contains("TELEMIT_CONFIG"), "{stderr}");
}

/// A flush timeout longer than anyone would wait: the first SIGTERM starts the flush, a second
/// one ends the process at once.
#[test]
fn a_second_signal_ends_a_flush_that_would_wait_forever() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("tcp://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--to", &to, "--flush-timeout", "99999999999h"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // One reading that cannot be delivered, and the input left open.
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"m v=1\n").unwrap();
    let pid = child.id() as libc::pid_t;
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "still flushing");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("a second SIGTERM did not end the process");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
}

#[test]
fn config_check_names_a_bad_variable_and_a_mapping_file_for_what_they_are() {
    let ws = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/telemit-ws.toml");
    let out = telemit(
        &["config", "check", ws],
        &[("TELEMIT_QUEUE_SIZE", "lots")],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("environment TELEMIT_QUEUE_SIZE=\"lots\"") && !stderr.contains("config "),
        "{stderr}"
    );

    let mapping = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/binance-kline.toml");
    let out = telemit(&["config", "check", mapping], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("this is a mapping file ([[rule]] tables)"),
        "{}",
        text(&out.stderr)
    );
}
