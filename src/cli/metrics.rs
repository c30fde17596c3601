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
    eprintln!(
        "telemit: serving http://{}/metrics",
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

fn copy_counters(reading: &Reading) {
    for (field, value) in reading.fields() {
        let name = format!("{}_{field}", reading.measurement());
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
