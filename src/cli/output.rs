//! Options shared by every command that sends: where, in which format, and how.

use std::time::Duration;

use clap::{Args, ValueEnum};
use telemit::format::{JsonOptions, WavefrontOptions};
use telemit::sender::{ConfigError, Event};
use telemit::tls::TlsOptions;
use telemit::{
    DefaultTags, Encoder, Endpoint, Format, OnFull, Precision, Reading, Sender, SenderBuilder,
};

use super::{parse_duration, parse_key_value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Influx line protocol (Telegraf data_format = "influx")
    Influx,
    /// One flat JSON object per reading (data_format = "json")
    Json,
    /// Wavefront, one line per field (data_format = "wavefront")
    Wavefront,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Influx => Format::Influx,
            FormatArg::Json => Format::Json,
            FormatArg::Wavefront => Format::Wavefront,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// Seconds
    S,
    /// Milliseconds
    Ms,
    /// Microseconds
    Us,
    /// Nanoseconds
    Ns,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::S => Precision::Seconds,
            PrecisionArg::Ms => Precision::Milliseconds,
            PrecisionArg::Us => Precision::Microseconds,
            PrecisionArg::Ns => Precision::Nanoseconds,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFullArg {
    /// Wait for room: nothing is lost, the input slows down
    Block,
    /// Drop the oldest queued reading (counted)
    DropOldest,
    /// Drop the new reading (counted)
    DropNewest,
}

impl From<OnFullArg> for OnFull {
    fn from(p: OnFullArg) -> Self {
        match p {
            OnFullArg::Block => OnFull::Block,
            OnFullArg::DropOldest => OnFull::DropOldest,
            OnFullArg::DropNewest => OnFull::DropNewest,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Where to send: unix:///path, unixgram:///path, tcp://host:port, tls://host:port,
    /// udp://host:port, or - for stdout
    #[arg(long, default_value = "-", value_name = "ENDPOINT", value_parser = |s: &str| s.parse::<Endpoint>().map_err(|e| e.to_string()))]
    pub to: Endpoint,

    /// Wire format; match it with data_format in Telegraf (configs in telegraf/)
    #[arg(long, value_enum, default_value = "influx")]
    pub format: FormatArg,

    /// Unit of the timestamps written (influx, json); set the same in Telegraf
    /// (influx_timestamp_precision, json_time_format). Wavefront always uses seconds
    #[arg(long, value_enum, default_value = "ns")]
    pub precision: PrecisionArg,

    /// Stamp readings that have no timestamp with the time they are sent. Without it Telegraf
    /// stamps them on arrival; --format json always stamps (Telegraf's json_time_key needs one)
    #[arg(long)]
    pub add_timestamp: bool,

    /// Tag added to every reading that does not have it (repeatable), e.g. -t host=web01
    #[arg(short = 't', long = "tag", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub tags: Vec<(String, String)>,

    /// Wavefront source= for readings with neither a source nor a host tag
    #[arg(long, value_name = "NAME")]
    pub wavefront_source: Option<String>,

    /// Wavefront: send booleans as 1 and 0 instead of rejecting them
    #[arg(long)]
    pub bool_as_number: bool,

    /// JSON key holding the measurement (Telegraf's json_name_key)
    #[arg(long, default_value = "measurement", value_name = "KEY")]
    pub json_name_key: String,

    /// JSON key holding the timestamp (Telegraf's json_time_key)
    #[arg(long, default_value = "time", value_name = "KEY")]
    pub json_time_key: String,

    /// Readings that may wait to be sent
    #[arg(
        long,
        default_value_t = 10_000,
        value_name = "READINGS",
        help_heading = "Sender"
    )]
    pub queue_size: usize,

    /// What to do when the queue is full
    #[arg(long, value_enum, default_value = "block", help_heading = "Sender")]
    pub on_full: OnFullArg,

    /// Close and reopen the connection after N readings on it (gracefully: the receiver
    /// confirms it read everything, or the rest is sent again)
    #[arg(long, value_name = "N", help_heading = "Sender")]
    pub reopen_after: Option<u64>,

    /// Close and reopen the connection once it has been open this long, so that a load
    /// balancer spreads long-running senders over its receivers
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Sender")]
    pub reopen_interval: Option<Duration>,

    /// Largest datagram payload in bytes [default: 1432 for udp, 65535 for unixgram]
    #[arg(long, value_name = "BYTES", help_heading = "Sender")]
    pub max_datagram: Option<usize>,

    /// How long to keep delivering queued readings at exit before dropping (and counting) them
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Sender")]
    pub flush_timeout: Duration,

    /// First delay before reconnecting after a failure
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION", help_heading = "Sender")]
    pub backoff_min: Duration,

    /// Longest delay between reconnection attempts
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Sender")]
    pub backoff_max: Duration,

    /// Kernel send buffer (SO_SNDBUF) for tcp and udp sockets
    #[arg(long, value_name = "BYTES", help_heading = "Sender")]
    pub send_buffer: Option<usize>,

    /// Also send telemit's own counters as readings of measurement "telemit" at this interval
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Sender")]
    pub stats_interval: Option<Duration>,

    /// Keep readings in an append-only spool in this directory when the queue is full (Telegraf
    /// away or slow), and send them in order once it takes them again; a restart sends what an
    /// earlier run left. One telemit per directory
    #[arg(long, value_name = "DIR", help_heading = "Sender")]
    pub spool: Option<std::path::PathBuf>,

    /// Largest size of the spool on disk; when it is full, --on-full applies
    #[arg(long, default_value = "1GiB", value_parser = super::parse_size, value_name = "SIZE", help_heading = "Sender")]
    pub spool_max: u64,

    /// Compress stream connections (unix, tcp, tls) with gzip; set content_encoding = "gzip"
    /// in Telegraf's socket_listener
    #[arg(long, help_heading = "Sender")]
    pub gzip: bool,

    /// For tls://: PEM file of CA certificates to trust besides the bundled web roots
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_ca: Option<std::path::PathBuf>,

    /// For tls://: PEM client certificate, for a Telegraf with tls_allowed_cacerts
    #[arg(long, value_name = "FILE", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// For tls://: PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<std::path::PathBuf>,

    /// For tls://: the name the server's certificate must carry, and the SNI sent, when it is
    /// not the host in --to (e.g. connecting by IP address)
    #[arg(long, value_name = "NAME", help_heading = "TLS")]
    pub tls_server_name: Option<String>,

    /// Print no connection events or summary on stderr (errors are still printed)
    #[arg(short, long)]
    pub quiet: bool,
}

impl OutputArgs {
    pub fn encoder(&self) -> Encoder {
        Encoder::new(self.format.into())
            .with_precision(self.precision.into())
            .with_json(JsonOptions {
                name_key: self.json_name_key.clone(),
                time_key: self.json_time_key.clone(),
            })
            .with_wavefront(WavefrontOptions {
                default_source: self.wavefront_source.clone(),
                bool_as_number: self.bool_as_number,
            })
    }

    /// The `--tag` defaults, checked before any input is read: a `--tag` that is empty, or
    /// that the chosen `--format` cannot send (`dir=C:\` in influx), is a usage error rather
    /// than a refusal of every reading.
    pub fn default_tags(&self) -> Result<DefaultTags, String> {
        let tags = DefaultTags::new(self.tags.clone()).map_err(|e| format!("--tag: {e}"))?;
        if self
            .wavefront_source
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(
                "--wavefront-source is empty: Telegraf's wavefront parser refuses \
                 `source=` without a value (and the whole datagram with it)"
                    .to_owned(),
            );
        }
        let encoder = self.encoder();
        for (key, value) in &self.tags {
            // A probe with one field whose key differs from the tag's: any refusal is the tag's.
            let field = if key == "v" { "w" } else { "v" };
            let probe = Reading::builder("m")
                .tag(key.as_str(), value.as_str())
                .field(field, 1.0)
                .build()
                .map_err(|e| format!("--tag {key}={value}: {e}"))?;
            encoder
                .encode(&probe, &mut Vec::new())
                .map_err(|e| format!("--tag {key}={value}: {e}"))?;
        }
        Ok(tags)
    }

    pub fn sender(&self, on_full_default: OnFull) -> Result<Sender, String> {
        self.start(self.sender_builder(on_full_default)?)
    }

    /// Starts `builder` and reports what the spool held from an earlier run.
    pub fn start(&self, builder: SenderBuilder) -> Result<Sender, String> {
        let sender = builder.start().map_err(|e| self.explain(e))?;
        let recovered = sender
            .spool_recovered()
            .filter(|r| r.records > 0 || r.damaged > 0);
        if let (Some(dir), Some(recovered)) = (&self.spool, recovered) {
            eprintln!(
                "telemit: spool {}: {} readings from an earlier run to send first{}",
                dir.display(),
                recovered.records,
                if recovered.damaged > 0 {
                    format!(
                        "; {} damaged record dropped (a write cut short by a crash)",
                        recovered.damaged
                    )
                } else {
                    String::new()
                }
            );
        }
        Ok(sender)
    }

    /// The library's words for a setting, with the flag that set it.
    pub fn explain(&self, error: ConfigError) -> String {
        match error {
            ConfigError::GzipNotStream { endpoint } => format!(
                "--gzip compresses stream connections (unix, tcp, tls); {endpoint} is not one"
            ),
            other => other.to_string(),
        }
    }

    /// The sender these options describe, to adjust before it starts.
    pub fn sender_builder(&self, on_full_default: OnFull) -> Result<SenderBuilder, String> {
        let tags = self.default_tags()?;
        let quiet = self.quiet;
        let on_full = match self.on_full {
            OnFullArg::Block => on_full_default,
            other => other.into(),
        };
        let builder = Sender::builder(self.to.clone(), self.encoder());
        let builder = match &self.spool {
            Some(dir) => builder.spool(dir.clone(), self.spool_max),
            None => builder,
        };
        Ok(builder
            .default_tags(tags)
            .add_timestamp(self.add_timestamp)
            .queue_size(self.queue_size)
            .on_full(on_full)
            .reopen_after(self.reopen_after)
            .reopen_interval(self.reopen_interval)
            .max_datagram(self.max_datagram)
            .flush_timeout(self.flush_timeout)
            .backoff(self.backoff_min, self.backoff_max)
            .send_buffer(self.send_buffer)
            .gzip(self.gzip)
            .tls(TlsOptions {
                ca_file: self.tls_ca.clone(),
                cert_file: self.tls_cert.clone(),
                key_file: self.tls_key.clone(),
                server_name: self.tls_server_name.clone(),
            })
            .on_event(move |event: &Event| {
                let outcome = matches!(
                    event,
                    Event::GaveUp { .. }
                        | Event::CloseUnconfirmed { .. }
                        | Event::OutputClosed { .. }
                );
                if !quiet || outcome {
                    eprintln!("telemit: {event}");
                }
            }))
    }
}
