//! `telemit listen`: a receiver with Telegraf's socket_listener behaviour.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use telemit::listen::{CountingSink, ListenOptions, Listener, Received};
use telemit::tls::TlsServerOptions;
use telemit::{Encoder, Endpoint, FieldValue, Format, Reading};

use super::output::{FormatArg, PrecisionArg};
use super::pipe::{JsonKeysArgs, TimestampCheck};
use super::{parse_duration, termination_flag};

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Where to listen: unix:///path, unixgram:///path, tcp://host:port, tls://host:port (with
    /// --tls-cert and --tls-key), udp://host:port
    #[arg(long, value_name = "ENDPOINT", value_parser = |s: &str| s.parse::<Endpoint>().map_err(|e| e.to_string()))]
    pub on: Endpoint,

    /// Data format to read (Telegraf's data_format)
    #[arg(long, value_enum, default_value = "influx")]
    pub format: FormatArg,

    /// Unit of incoming timestamps (influx_timestamp_precision; json_time_format unix_ns etc.)
    #[arg(long, value_enum, default_value = "ns")]
    pub precision: PrecisionArg,

    /// Print readings as JSON objects {"name","tags","fields","timestamp"} instead of line protocol
    #[arg(long)]
    pub json: bool,

    /// Print no readings, only rates, errors and the final report
    #[arg(short, long)]
    pub quiet: bool,

    /// Field holding a sequence number, for counting lost and duplicated readings
    #[arg(long, default_value = "seq", value_name = "FIELD")]
    pub seq_field: String,

    /// Longest stream line and largest datagram read [default: 65536]. Given, it also sets the
    /// kernel receive buffer (SO_RCVBUF) of udp and unixgram sockets, as Telegraf's
    /// read_buffer_size does; the kernel caps that at net.core.rmem_max
    #[arg(long, value_parser = super::parse_bytes, value_name = "BYTES")]
    pub read_buffer_size: Option<usize>,

    /// Stream connections arrive compressed (Telegraf's content_encoding; senders use --gzip)
    #[arg(long, value_enum, default_value = "identity", value_name = "ENCODING")]
    pub content_encoding: ContentEncoding,

    /// For tls://: PEM certificate to present (Telegraf's tls_cert)
    #[arg(long, value_name = "FILE", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// For tls://: PEM private key of --tls-cert (Telegraf's tls_key)
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<std::path::PathBuf>,

    /// For tls://: require client certificates signed by these CAs (Telegraf's
    /// tls_allowed_cacerts)
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_allowed_cacerts: Option<std::path::PathBuf>,

    /// Stop after this long (default: run until interrupted)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// JSON key holding the measurement (json_name_key)
    #[arg(long, default_value = "measurement", value_name = "KEY")]
    pub json_name_key: String,

    /// JSON key holding the time (json_time_key); '' for none. An object without it is
    /// rejected, as Telegraf rejects it
    #[arg(long, default_value = "time", value_name = "KEY")]
    pub json_time_key: String,

    #[command(flatten)]
    pub json_keys: JsonKeysArgs,
    /// Serve the listener's own counters as Prometheus text at http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContentEncoding {
    /// As sent
    Identity,
    /// gzip streams, one per connection
    Gzip,
}

pub fn run(args: ListenArgs) -> Result<i32, String> {
    let mut options = ListenOptions::default().with_format(args.format.into());
    options.json = args
        .json_keys
        .options(&args.json_name_key, &args.json_time_key);
    options.precision = args.precision.into();
    options.read_buffer_size = args
        .read_buffer_size
        .unwrap_or(telemit::listen::DEFAULT_READ_BUFFER);
    options.socket_buffer = args.read_buffer_size;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        options = options.with_tls(TlsServerOptions {
            cert_file: cert.clone(),
            key_file: key.clone(),
            client_ca_file: args.tls_allowed_cacerts.clone(),
        });
    }
    options.gzip = args.content_encoding == ContentEncoding::Gzip;
    let listener = Listener::bind(&args.on, options)
        .map_err(|e| format!("cannot listen on {}: {e}", args.on))?;
    let local = listener.endpoint().map_err(|e| e.to_string())?;
    let buffer = match listener.receive_buffer() {
        Ok(Some(bytes)) => format!(" (socket receive buffer {bytes} bytes)"),
        _ => String::new(),
    };
    tracing::info!("reading {} on {local}{buffer}", Format::from(args.format));

    let counter = CountingSink::new(args.seq_field.clone());
    let (as_json, quiet) = (args.json, args.quiet);
    let stdout = Arc::new(Mutex::new(std::io::BufWriter::new(std::io::stdout())));
    let printer = stdout.clone();
    let timestamps = Mutex::new(TimestampCheck::new("--precision"));
    let sink = counter.sink(move |received| match received {
        Received::Readings(readings) if !quiet => {
            warn_implausible(&timestamps, readings);
            let mut out = printer.lock().unwrap_or_else(|e| e.into_inner());
            for reading in readings {
                let _ = out.write_all(&render(reading, as_json));
            }
            let _ = out.flush();
        }
        Received::Readings(readings) => warn_implausible(&timestamps, readings),
        Received::Rejected { text, error } => {
            tracing::error!(
                target: "telemit::input",
                "rejected: {error}: {}",
                super::excerpt(text)
            );
        }
        _ => {}
    });
    let handle = listener.spawn(sink).map_err(|e| e.to_string())?;
    let counted = counter.shared();
    let _metrics = super::metrics::serve(args.metrics_listen, move || {
        let t = counted.lock().unwrap_or_else(|e| e.into_inner());
        telemit::Reading::builder("telemit_listen")
            .field("readings", t.readings)
            .field("rejected", t.rejected)
            .field("lost", t.sequence.lost())
            .field("duplicated", t.sequence.duplicates())
            .build()
            .into_iter()
            .collect()
    })?;
    let terminated = termination_flag().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    while !terminated.load(Ordering::SeqCst) && args.duration.is_none_or(|d| started.elapsed() < d)
    {
        std::thread::sleep(Duration::from_millis(50));
        if last.0.elapsed() >= Duration::from_secs(1) {
            let t = counter.tally();
            if t.readings != last.1 {
                let rate = (t.readings - last.1) as f64 / last.0.elapsed().as_secs_f64();
                tracing::info!(
                    "{rate:.0} readings/s, {} received, {} rejected, {} lost, {} duplicated",
                    t.readings,
                    t.rejected,
                    t.sequence.lost(),
                    t.sequence.duplicates()
                );
            }
            last = (Instant::now(), t.readings);
        }
    }
    handle.stop();
    tracing::info!(target: "telemit::summary", "{}", counter.tally().summary());
    Ok(0)
}

/// Says once per run that incoming timestamps look like another unit than `--precision`.
fn warn_implausible(check: &Mutex<TimestampCheck>, readings: &[Reading]) {
    let mut check = check.lock().unwrap_or_else(|e| e.into_inner());
    for reading in readings {
        if let Some(warning) = check.check(reading.timestamp()) {
            tracing::warn!(target: "telemit::input", "{warning}");
        }
    }
}

fn render(reading: &Reading, as_json: bool) -> Vec<u8> {
    if !as_json {
        let mut out = Vec::new();
        if Encoder::new(Format::Influx)
            .encode(reading, &mut out)
            .is_ok()
        {
            return out;
        }
    }
    let tags: serde_json::Map<String, serde_json::Value> = reading
        .tags()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let fields: serde_json::Map<String, serde_json::Value> = reading
        .fields()
        .iter()
        .map(|(k, v)| {
            let value = match v {
                FieldValue::Float(f) => (*f).into(),
                FieldValue::Integer(i) => (*i).into(),
                FieldValue::Unsigned(u) => (*u).into(),
                FieldValue::Boolean(b) => (*b).into(),
                FieldValue::String(s) => s.clone().into(),
            };
            (k.clone(), value)
        })
        .collect();
    let timestamp = reading
        .timestamp()
        .and_then(|t| t.to_precision(telemit::Precision::Nanoseconds));
    let object = serde_json::json!({
        "name": reading.measurement(), "tags": tags, "fields": fields, "timestamp": timestamp,
    });
    let mut out = object.to_string().into_bytes();
    out.push(b'\n');
    out
}
