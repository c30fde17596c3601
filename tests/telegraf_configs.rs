//! Every Telegraf config in telegraf/ parses as TOML and matches the telemit command written in
//! its header: same address, same data format, same timestamp precision; and that command runs.

use std::process::{Command, Stdio};

fn header_command(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .find(|l| l.starts_with("telemit "))
        .expect("a header comment with the telemit command");
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

fn flag<'a>(args: &'a [String], name: &str, default: &'a str) -> &'a str {
    args.iter()
        .position(|a| a == name)
        .map_or(default, |i| args[i + 1].as_str())
}

fn bytes(size: &str) -> u64 {
    let (number, unit) = size.split_at(
        size.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(size.len()),
    );
    let number: u64 = number.parse().unwrap();
    number
        * match unit {
            "" | "B" => 1,
            "KiB" => 1024,
            "MiB" => 1024 * 1024,
            "MB" => 1_000_000,
            other => panic!("unit {other}"),
        }
}

#[test]
fn configs_match_their_telemit_command() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("telegraf");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let config: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if text.contains("--push") {
            check_push_listener(&name, &text, &config["inputs"]["http_listener_v2"][0]);
            checked += 1;
            continue;
        }
        if header_command(&text)
            .iter()
            .any(|a| a.starts_with("http://") || a.starts_with("https://"))
        {
            check_write_listener(&name, &text, &config);
            checked += 1;
            continue;
        }
        let listener = &config["inputs"]["socket_listener"][0];
        let args = header_command(&text);

        let to = flag(&args, "--to", "-");
        let format = flag(&args, "--format", "influx");
        let precision = flag(&args, "--precision", "ns");
        match to.strip_prefix("tls://") {
            // Telegraf listens on tcp:// and speaks TLS when it has a certificate.
            Some(address) => {
                let tcp = format!("tcp://{address}");
                assert_eq!(listener["service_address"].as_str(), Some(tcp.as_str()));
                assert!(listener.get("tls_cert").is_some(), "{name}: tls_cert");
                assert!(listener.get("tls_key").is_some(), "{name}: tls_key");
                assert_eq!(
                    listener.get("tls_allowed_cacerts").is_some(),
                    args.iter().any(|a| a == "--tls-cert"),
                    "{name}: client certificates on both sides or on neither"
                );
            }
            None => assert_eq!(listener["service_address"].as_str(), Some(to), "{name}"),
        }
        assert_eq!(listener["data_format"].as_str(), Some(format), "{name}");
        match format {
            "influx" => assert_eq!(
                listener["influx_timestamp_precision"].as_str(),
                Some(format!("1{precision}").as_str()),
                "{name}"
            ),
            "json" => {
                let unit = if precision == "s" {
                    "unix".to_owned()
                } else {
                    format!("unix_{precision}")
                };
                assert_eq!(
                    listener["json_time_format"].as_str(),
                    Some(unit.as_str()),
                    "{name}"
                );
                assert_eq!(
                    listener["json_name_key"].as_str(),
                    Some(flag(&args, "--json-name-key", "measurement")),
                    "{name}"
                );
                assert_eq!(
                    listener["json_time_key"].as_str(),
                    Some(flag(&args, "--json-time-key", "time")),
                    "{name}"
                );
            }
            _ => {}
        }
        assert_eq!(
            listener.get("content_encoding").and_then(|v| v.as_str()),
            args.iter().any(|a| a == "--gzip").then_some("gzip"),
            "{name}: content_encoding matches --gzip"
        );
        let buffer = listener
            .get("read_buffer_size")
            .and_then(|v| v.as_str())
            .map_or(64 * 1024, bytes);
        let needed = match to.split("://").next().unwrap() {
            "udp" => telemit::sender::DEFAULT_UDP_DATAGRAM as u64,
            "unixgram" => telemit::sender::DEFAULT_UNIXGRAM_DATAGRAM as u64,
            _ => telemit::sender::TELEGRAF_MAX_LINE as u64,
        };
        assert!(
            buffer >= needed,
            "{name}: read_buffer_size {buffer} < {needed}"
        );
        if to.starts_with("unix") {
            assert!(
                listener.get("socket_mode").is_some(),
                "{name}: socket_mode lets the sender write"
            );
        }

        // The command itself is valid: a pipe with nothing on stdin connects to nothing and ends
        // well; any other command, or one naming certificate files that exist only on the
        // reader's machine, must at least parse (its --help succeeds).
        let mut command = Command::new(env!("CARGO_BIN_EXE_telemit"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&args)
            .stdin(Stdio::null());
        if args[0] != "pipe" || to.starts_with("tls://") {
            command.arg("--help");
        }
        let out = command.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert_eq!(
        checked, 22,
        "one config per format and transport, TLS, gzip, the pipeline, the Binance example, \
         the recorder to Prometheus, to InfluxDB and by push, and the three HTTP write listeners"
    );
}

/// A listener of the InfluxDB write API (`influxdb_v2_listener`, `influxdb_listener`, or
/// `http_listener_v2` with `data_format = "influx"`) takes what the `--to http://…` command in
/// its header sends: same address and path, the credentials it sends, bodies of the size it
/// sends, timestamps in its precision; and that command runs.
fn check_write_listener(name: &str, text: &str, config: &toml::Table) {
    let args = header_command(text);
    let to = flag(&args, "--to", "-");
    let endpoint: telemit::Endpoint = to.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
    let telemit::Endpoint::Http { host, port, path } = &endpoint else {
        panic!("{name}: {to} is not an http:// address");
    };
    let address = format!("{host}:{port}");
    let path = path.split('?').next().unwrap();
    let inputs = config["inputs"].as_table().unwrap();
    assert_eq!(inputs.len(), 1, "{name}: one listener");
    let (kind, listener) = inputs.iter().next().unwrap();
    let listener = &listener[0];
    assert_eq!(
        listener["service_address"].as_str(),
        Some(address.as_str()),
        "{name}"
    );
    let str_of = |key: &str| listener.get(key).and_then(|v| v.as_str());
    match kind.as_str() {
        "influxdb_v2_listener" => {
            assert_eq!(path, "/api/v2/write", "{name}");
            assert_eq!(
                str_of("token"),
                args.iter()
                    .position(|a| a == "--token")
                    .map(|i| args[i + 1].as_str()),
                "{name}: token"
            );
        }
        "influxdb_listener" => {
            assert_eq!(path, "/write", "{name}");
            let given = |flag: &str| {
                args.iter()
                    .position(|a| a == flag)
                    .map(|i| args[i + 1].as_str())
            };
            assert_eq!(str_of("basic_username"), given("--username"), "{name}");
            assert_eq!(str_of("basic_password"), given("--password"), "{name}");
        }
        "http_listener_v2" => {
            assert!(
                listener["paths"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p.as_str() == Some(path))),
                "{name}: paths holds {path}"
            );
            assert!(
                listener["methods"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m.as_str() == Some("POST"))),
                "{name}: writes are POST requests"
            );
            assert_eq!(
                str_of("data_format"),
                Some(flag(&args, "--format", "influx")),
                "{name}"
            );
            // This listener does not read the precision in the address.
            let precision = format!("1{}", flag(&args, "--precision", "ns"));
            assert_eq!(
                str_of("influx_timestamp_precision"),
                Some(precision.as_str()),
                "{name}"
            );
        }
        other => panic!("{name}: {other} is not an HTTP write listener"),
    }
    let limit = str_of("max_body_size").map_or(32 * 1024 * 1024, bytes);
    let body = flag(&args, "--max-body-size", "1048576")
        .parse::<u64>()
        .unwrap();
    assert!(limit >= body, "{name}: max_body_size {limit} < {body}");

    // Nothing on stdin: the command starts its sender, sends nothing and ends well.
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An `http_listener_v2` config takes the Prometheus text the recorder pushes to the URL in
/// its header (`--push http://ADDR/PATH`): same address, same path, Prometheus data format.
fn check_push_listener(name: &str, text: &str, listener: &toml::Value) {
    let url = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .flat_map(|l| l.split_whitespace().skip_while(|w| *w != "--push").nth(1))
        .next()
        .unwrap_or_else(|| panic!("{name}: a header command with --push URL"));
    let rest = url.strip_prefix("http://").expect("an http:// push URL");
    let (address, path) = rest.split_at(rest.find('/').expect("a path in the push URL"));
    assert_eq!(
        listener["service_address"].as_str(),
        Some(address),
        "{name}"
    );
    assert!(
        listener["paths"]
            .as_array()
            .is_some_and(|paths| paths.iter().any(|p| p.as_str() == Some(path))),
        "{name}: paths holds {path}"
    );
    assert!(
        listener["methods"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m.as_str() == Some("PUT"))),
        "{name}: pushes are PUT requests"
    );
    assert_eq!(
        listener["data_format"].as_str(),
        Some("prometheus"),
        "{name}"
    );
}

/// The systemd unit in examples/ runs a command that telemit accepts, and keeps the sandbox
/// settings the README promises.
#[test]
fn systemd_unit_runs_a_valid_command() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telemit-ws.service");
    let text = std::fs::read_to_string(path).unwrap();
    let joined = text.replace("\\\n", " ");
    let exec = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut args = exec.split_whitespace();
    assert_eq!(args.next(), Some("/usr/local/bin/telemit"));
    let args: Vec<&str> = args.collect();
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{exec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for setting in [
        "Restart=always",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(text.lines().any(|l| l == setting), "missing {setting}");
    }
}
