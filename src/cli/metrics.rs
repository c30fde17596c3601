//! `--metrics-listen ADDR`: telemit's own counters, and for `ws` the latest value of every
//! mapped field, served at `http://ADDR/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use telemit::recorder::{RecorderBuilder, RecorderHandle, TelemitRecorder};
use telemit::{FieldValue, Reading};

/// How often the command's counters are copied into the served series.
const REFRESH: Duration = Duration::from_secs(1);

/// A running `/metrics` listener; stops when dropped.
pub struct SelfMetrics {
    recorder: TelemitRecorder,
    handle: Arc<RecorderHandle>,
    stop: std::sync::mpsc::Sender<()>,
    refresher: Option<JoinHandle<()>>,
    /// The mapped gauges already given a `# HELP` text.
    described: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Serves at `addr` the numeric fields of the readings `counters` returns (each second), as
/// `<measurement>_<field>`: counters (`…_total`), except `connected` and `…_depth`, which are
/// gauges.
pub fn serve(
    addr: Option<SocketAddr>,
    counters: impl Fn() -> Vec<Reading> + Send + 'static,
) -> Result<Option<SelfMetrics>, String> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let (recorder, handle) = RecorderBuilder::new()
        .listen(addr)
        .build()
        .map_err(|e| e.to_string())?;
    let handle = Arc::new(handle);
    tracing::info!(
        "serving http://{}/metrics",
        handle.local_addr().unwrap_or(addr)
    );
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let refresher = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            loop {
                metrics::with_local_recorder(&recorder, || {
                    for reading in counters() {
                        copy_counters(&reading);
                    }
                });
                match stopped.recv_timeout(REFRESH) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })
    };
    Ok(Some(SelfMetrics {
        recorder,
        handle,
        stop,
        refresher: Some(refresher),
        described: Default::default(),
    }))
}

fn number(value: &FieldValue) -> Option<f64> {
    match value {
        FieldValue::Float(v) => Some(*v),
        FieldValue::Integer(v) => Some(*v as f64),
        FieldValue::Unsigned(v) => Some(*v as f64),
        FieldValue::Boolean(v) => Some(f64::from(u8::from(*v))),
        FieldValue::String(_) => None,
    }
}

fn labels(reading: &Reading) -> Vec<metrics::Label> {
    reading
        .tags()
        .iter()
        .map(|(k, v)| metrics::Label::new(k.clone(), v.clone()))
        .collect()
}

/// The `# HELP` text of one of telemit's own series: what it counts, in the words of the
/// counters' documentation (`StatsSnapshot`, `WsStats`, the listener's tally).
fn help(measurement: &str, field: &str) -> String {
    let known = match (measurement, field) {
        ("telemit", "readings_in") => "Readings handed to the sender",
        ("telemit", "written") => {
            "Readings written to the socket (for datagrams: handed to the kernel)"
        }
        ("telemit", "dropped") => "Readings not delivered, for any reason",
        ("telemit", "bytes") => "Bytes written to the socket",
        ("telemit", "batches") => "Writes (streams) or datagrams sent",
        ("telemit", "reconnects") => "Connections lost and opened again, reopens included",
        ("telemit", "queue_depth") => "Readings waiting in the sender's queue",
        ("telemit", "spooled") => "Readings written to the disk spool",
        ("telemit", "spool_depth") => "Readings in the disk spool now",
        ("telemit_ws", "connected") => "1 while the WebSocket stream is connected, else 0",
        ("telemit_ws", "reconnects") => "WebSocket connections after the first",
        ("telemit_ws", "messages") => "WebSocket messages received",
        ("telemit_ws", "bytes") => "Bytes of the WebSocket messages received",
        ("telemit_ws", "ignored") => "Messages no mapping rule applied to",
        ("telemit_ws", "mapping_errors") => "Rule failures: a missing path, a bad number, …",
        ("telemit_ws", "refused") => "Messages refused: oversize, or binary and not UTF-8",
        ("telemit_ws", "readings") => "Readings mapped from the stream",
        ("telemit_listen", "readings") => "Readings received and parsed",
        ("telemit_listen", "rejected") => "Lines or datagrams the parser rejected",
        ("telemit_listen", "lost") => "Readings missing from the sequence numbers",
        ("telemit_listen", "duplicated") => "Readings received again, by sequence number",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    match field.strip_prefix("dropped_") {
        Some(reason) if measurement == "telemit" => {
            format!("Readings not delivered, for the reason {reason}")
        }
        _ => format!("Field {field} of telemit's {measurement} readings (--stats-interval)"),
    }
}

fn copy_counters(reading: &Reading) {
    for (field, value) in reading.fields() {
        let name = format!("{}_{field}", reading.measurement());
        // Idempotent, and at most a few dozen names once a second.
        metrics::describe_counter!(name.clone(), help(reading.measurement(), field));
        match value {
            FieldValue::Unsigned(total) if field != "connected" && !field.ends_with("_depth") => {
                metrics::counter!(name, labels(reading)).absolute(*total);
            }
            other => {
                if let Some(v) = number(other) {
                    metrics::gauge!(name, labels(reading)).set(v);
                }
            }
        }
    }
}

impl SelfMetrics {
    /// Sets a gauge `<measurement>_<field>` for every numeric field of `reading`, labelled
    /// with its tags (the latest mapped values of `telemit ws`).
    pub fn latest(&self, reading: &Reading) {
        metrics::with_local_recorder(&self.recorder, || {
            for (field, value) in reading.fields() {
                if let Some(v) = number(value) {
                    let name = format!("{}_{field}", reading.measurement());
                    let mut described = self.described.lock().unwrap_or_else(|e| e.into_inner());
                    if !described.contains(&name) {
                        metrics::describe_gauge!(
                            name.clone(),
                            format!(
                                "Latest value of field {field} of the mapped readings {}",
                                reading.measurement()
                            )
                        );
                        described.insert(name.clone());
                    }
                    drop(described);
                    metrics::gauge!(name, labels(reading)).set(v);
                }
            }
        });
    }
}

impl Drop for SelfMetrics {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.refresher.take() {
            let _ = thread.join();
        }
        self.handle.shutdown();
    }
}
