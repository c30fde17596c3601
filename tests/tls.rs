//! TLS on TCP against a local TLS receiver, with certificates made in the test: delivery with
//! and without client certificates, and a clear error for each way it can be set up wrong.

mod support;

use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Authority;

use telemit::listen::{ListenOptions, Listener, Received};
use telemit::sender::{ConfigError, Event};
use telemit::tls::{TlsOptions, TlsServerOptions};
use telemit::{Encoder, Endpoint, Format, Sender};

/// A TLS receiver on a free port; what it parsed and what it refused.
struct Receiver {
    port: u16,
    arrived: Arc<Mutex<u64>>,
    refused: Arc<Mutex<Vec<String>>>,
    _handle: telemit::listen::ListenerHandle,
}

impl Receiver {
    fn start(tls: TlsServerOptions) -> Receiver {
        let options = ListenOptions::default().with_tls(tls);
        let listener = Listener::bind(&"tls://127.0.0.1:0".parse().unwrap(), options).unwrap();
        let Endpoint::Tls { port, .. } = listener.endpoint().unwrap() else {
            panic!("a tls listener reports a tls endpoint");
        };
        let arrived = Arc::new(Mutex::new(0u64));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let (a, r) = (arrived.clone(), refused.clone());
        let handle = listener
            .spawn(Arc::new(move |received| match received {
                Received::Readings(readings) => *a.lock().unwrap() += readings.len() as u64,
                Received::Rejected { error, .. } => r.lock().unwrap().push(error),
                _ => {}
            }))
            .unwrap();
        Receiver {
            port,
            arrived,
            refused,
            _handle: handle,
        }
    }

    fn wait_for(&self, count: u64) -> u64 {
        for _ in 0..500 {
            if *self.arrived.lock().unwrap() >= count {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        *self.arrived.lock().unwrap()
    }
}

/// Sends `count` readings to `host` at the receiver's port; the final counters and the
/// connection events seen.
fn send(
    receiver: &Receiver,
    host: &str,
    tls: TlsOptions,
    count: u64,
) -> (telemit::StatsSnapshot, Vec<String>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let endpoint: Endpoint = format!("tls://{host}:{}", receiver.port).parse().unwrap();
    let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
        .tls(tls)
        .flush_timeout(Duration::from_millis(1500))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .on_event(move |event: &Event| seen.lock().unwrap().push(event.to_string()))
        .start()
        .unwrap();
    for seq in 0..count {
        sender.send(&support::numbered(seq)).unwrap();
    }
    let stats = sender.shutdown();
    let events = events.lock().unwrap().clone();
    (stats, events)
}

fn server(dir: &Path, ca: &Authority, names: &[&str], expired: bool) -> TlsServerOptions {
    let (cert_file, key_file) = ca.sign(dir, "server", names, expired);
    TlsServerOptions {
        cert_file,
        key_file,
        client_ca_file: None,
    }
}

fn trusting(ca: &Authority) -> TlsOptions {
    TlsOptions {
        ca_file: Some(ca.cert_file.clone()),
        ..TlsOptions::default()
    }
}

/// A receiver that requires client certificates from the CA "clients", and client settings
/// with a certificate from the CA `client_signer`.
fn mutual(dir: &Path, client_signer: &str) -> (Receiver, TlsOptions) {
    let ca = Authority::new(dir, "private");
    let clients = Authority::new(dir, "clients");
    let signer = if client_signer == "clients" {
        None
    } else {
        Some(Authority::new(dir, client_signer))
    };
    let (cert_file, key_file) =
        signer
            .as_ref()
            .unwrap_or(&clients)
            .sign(dir, "client", &["telemit"], false);
    let receiver = Receiver::start(TlsServerOptions {
        client_ca_file: Some(clients.cert_file.clone()),
        ..server(dir, &ca, &["localhost"], false)
    });
    let tls = TlsOptions {
        cert_file: Some(cert_file),
        key_file: Some(key_file),
        ..trusting(&ca)
    };
    (receiver, tls)
}

#[test]
fn delivers_everything_to_a_server_signed_by_the_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let receiver = Receiver::start(server(dir.path(), &ca, &["localhost"], false));
    let (stats, events) = send(&receiver, "localhost", trusting(&ca), 5000);
    assert_eq!(stats.written, 5000, "{} {events:?}", stats.summary());
    assert_eq!(receiver.wait_for(5000), 5000);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn connecting_by_address_verifies_the_name_given_instead() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let receiver = Receiver::start(server(dir.path(), &ca, &["telegraf.internal"], false));
    let tls = TlsOptions {
        server_name: Some("telegraf.internal".into()),
        ..trusting(&ca)
    };
    let (stats, _) = send(&receiver, "127.0.0.1", tls, 100);
    assert_eq!(stats.written, 100, "{}", stats.summary());
    assert_eq!(receiver.wait_for(100), 100);
}

#[test]
fn mutual_tls_delivers_with_a_client_certificate_from_an_allowed_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (receiver, tls) = mutual(dir.path(), "clients");
    let (stats, events) = send(&receiver, "localhost", tls, 2000);
    assert_eq!(stats.written, 2000, "{} {events:?}", stats.summary());
    assert_eq!(receiver.wait_for(2000), 2000);
}

/// The sender keeps the readings and retries; shutdown drops and counts them. The one event
/// of the incident says what is wrong.
fn assert_refused(stats: &telemit::StatsSnapshot, events: &[String], reason: &str) {
    assert_eq!(stats.written, 0, "{}", stats.summary());
    assert_eq!(stats.dropped_total(), 10, "{}", stats.summary());
    let connect_failures: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("cannot connect"))
        .collect();
    assert_eq!(
        connect_failures.len(),
        1,
        "one event per incident: {events:?}"
    );
    assert!(
        connect_failures[0].contains(reason),
        "expected {reason:?} in {events:?}"
    );
}

#[test]
fn a_server_signed_by_another_ca_is_refused_as_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let other = Authority::new(dir.path(), "other");
    let receiver = Receiver::start(server(dir.path(), &other, &["localhost"], false));
    let (stats, events) = send(&receiver, "localhost", trusting(&ca), 10);
    assert_refused(
        &stats,
        &events,
        "not signed by a trusted CA; give its CA certificate",
    );
    assert_eq!(receiver.wait_for(0), 0);
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let receiver = Receiver::start(server(dir.path(), &ca, &["telegraf.internal"], false));
    let (stats, events) = send(&receiver, "localhost", trusting(&ca), 10);
    assert_refused(
        &stats,
        &events,
        "not valid for the name \"localhost\"; connect by a name it lists, or set the expected name",
    );
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let receiver = Receiver::start(server(dir.path(), &ca, &["localhost"], true));
    let (stats, events) = send(&receiver, "localhost", trusting(&ca), 10);
    assert_refused(&stats, &events, "the server's certificate has expired");
}

#[test]
fn a_server_requiring_a_client_certificate_says_so_when_none_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let clients = Authority::new(dir.path(), "clients");
    let receiver = Receiver::start(TlsServerOptions {
        client_ca_file: Some(clients.cert_file.clone()),
        ..server(dir.path(), &ca, &["localhost"], false)
    });
    let (stats, events) = send(&receiver, "localhost", trusting(&ca), 10);
    assert_refused(
        &stats,
        &events,
        "the server requires a client certificate; give one",
    );
    assert_eq!(
        receiver.wait_for(1),
        0,
        "nothing may arrive without a certificate"
    );
    let refused = receiver.refused.lock().unwrap().clone();
    assert!(
        refused
            .iter()
            .any(|e| e.starts_with("TLS connection refused")),
        "{refused:?}"
    );
}

#[test]
fn a_client_certificate_from_a_ca_the_server_does_not_allow_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (receiver, tls) = mutual(dir.path(), "strangers");
    let (stats, events) = send(&receiver, "localhost", tls, 10);
    assert_refused(
        &stats,
        &events,
        "the server does not accept this client certificate",
    );
}

#[test]
fn unusable_files_and_settings_are_refused_at_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let start = |tls: TlsOptions, endpoint: &str| {
        Sender::builder(endpoint.parse().unwrap(), Encoder::new(Format::Influx))
            .tls(tls)
            .start()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let missing = dir.path().join("missing.pem");
    assert!(
        start(
            TlsOptions {
                ca_file: Some(missing.clone()),
                ..TlsOptions::default()
            },
            "tls://localhost:8094"
        )
        .starts_with(&format!("CA file {}: cannot read it", missing.display())),
    );
    assert_eq!(
        start(
            TlsOptions {
                ca_file: Some(not_pem.clone()),
                ..TlsOptions::default()
            },
            "tls://localhost:8094"
        ),
        format!(
            "CA file {}: no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)",
            not_pem.display()
        )
    );
    let ca = Authority::new(dir.path(), "private");
    let (cert_file, _) = ca.sign(dir.path(), "client", &["telemit"], false);
    assert_eq!(
        start(
            TlsOptions {
                cert_file: Some(cert_file.clone()),
                key_file: Some(not_pem.clone()),
                ..TlsOptions::default()
            },
            "tls://localhost:8094"
        ),
        format!(
            "client key {}: no private key in it (expected a PEM block)",
            not_pem.display()
        )
    );
    assert_eq!(
        start(
            TlsOptions {
                cert_file: Some(cert_file),
                ..TlsOptions::default()
            },
            "tls://localhost:8094"
        ),
        "a client certificate needs its key: give the key file too"
    );
    let error = Sender::builder(
        "tcp://localhost:8094".parse().unwrap(),
        Encoder::new(Format::Influx),
    )
    .tls(trusting(&ca))
    .start()
    .err();
    assert!(matches!(error, Some(ConfigError::TlsNotUsed { .. })));
}

#[test]
fn the_command_line_sends_and_listens_over_mutual_tls() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "private");
    let (server_cert, server_key) = ca.sign(dir.path(), "server", &["localhost"], false);
    let (client_cert, client_key) = ca.sign(dir.path(), "client", &["telemit"], false);
    let port = support::free_port();
    let path = |p: &PathBuf| p.display().to_string();
    let listen = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "listen",
            "--on",
            &format!("tls://127.0.0.1:{port}"),
            "--duration",
            "4s",
        ])
        .args([
            "--tls-cert",
            &path(&server_cert),
            "--tls-key",
            &path(&server_key),
        ])
        .args(["--tls-allowed-cacerts", &path(&ca.cert_file)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let send = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "send",
            "weather,city=Oslo temperature=21.5 1700000000000000000",
        ])
        .args(["--to", &format!("tls://localhost:{port}")])
        .args(["--tls-ca", &path(&ca.cert_file)])
        .args([
            "--tls-cert",
            &path(&client_cert),
            "--tls-key",
            &path(&client_key),
        ])
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let listened = listen.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listened.stdout),
        "weather,city=Oslo temperature=21.5 1700000000000000000\n",
        "{}",
        String::from_utf8_lossy(&listened.stderr)
    );
}
