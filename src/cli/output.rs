//! Options shared by every command that sends: where, in which format, and how.

use std::time::Duration;

use clap::{Args, ValueEnum};
use telemit::format::{JsonOptions, WavefrontOptions};
use telemit::sender::{ConfigError, Event, HttpOptions};
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
    #[value(alias = "1s")]
    S,
    /// Milliseconds
    #[value(alias = "1ms")]
    Ms,
    /// Microseconds
    #[value(aliases = ["1us", "µs", "1µs"])]
    Us,
    /// Nanoseconds
    #[value(alias = "1ns")]
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
    /// udp://host:port, http(s)://host:port/path (the InfluxDB write API: /write?db=NAME,
    /// /api/v2/write?org=ORG&bucket=BUCKET, Telegraf's http listeners), or - for stdout
    #[arg(long, default_value = "-", value_name = "ENDPOINT", value_parser = |s: &str| s.parse::<Endpoint>().map_err(|e| e.to_string()))]
    pub to: Endpoint,

    /// Wire format; match it with data_format in Telegraf (configs in telegraf/)
    #[arg(long, value_enum, default_value = "influx")]
    pub format: FormatArg,

    /// Unit of the timestamps written (influx, json); set the same in Telegraf
    /// (influx_timestamp_precision, json_time_format). Wavefront always uses seconds.
    /// Telegraf's spellings 1s, 1ms, 1us, 1ns are taken too
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
    #[arg(long, default_value = "measurement", value_name = "KEY", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub json_name_key: String,

    /// JSON key holding the timestamp (Telegraf's json_time_key)
    #[arg(long, default_value = "time", value_name = "KEY", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub json_time_key: String,

    /// Readings that may wait to be sent (at least 1)
    #[arg(
        long,
        default_value_t = 10_000,
        value_parser = parse_queue_size,
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

    /// Largest datagram payload in bytes, or HTTP request body before compression
    /// [default: 1432 for udp, 65535 for unixgram, 1048576 for http]
    #[arg(
        long,
        visible_alias = "max-body-size",
        value_parser = super::parse_bytes,
        value_name = "BYTES",
        help_heading = "Sender"
    )]
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
    #[arg(long, value_parser = super::parse_bytes, value_name = "BYTES", help_heading = "Sender")]
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
    /// in Telegraf's socket_listener. For http(s): gzip request bodies
    #[arg(long, help_heading = "Sender")]
    pub gzip: bool,

    #[command(flatten)]
    pub http: HttpArgs,

    /// For tls:// and https://: PEM file of CA certificates to trust besides the bundled web roots
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_ca: Option<std::path::PathBuf>,

    /// For tls:// and https://: PEM client certificate, for a Telegraf with tls_allowed_cacerts
    #[arg(long, value_name = "FILE", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// For tls:// and https://: PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<std::path::PathBuf>,

    /// For tls:// and https://: the name the server's certificate must carry, and the SNI sent, when it is
    /// not the host in --to (e.g. connecting by IP address)
    #[arg(long, value_name = "NAME", help_heading = "TLS")]
    pub tls_server_name: Option<String>,

    /// Log errors only: rejected input, undelivered readings and the summary of a run that lost
    /// or rejected any (see also -v, RUST_LOG, --log-format)
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of the HTTP write API, named after Telegraf's `outputs.influxdb_v2`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// For http(s)://: API token, sent as "Authorization: Token TOKEN" (InfluxDB 2.x/3.x;
    /// InfluxDB 1.x takes USER:PASSWORD here)
    #[arg(long, value_name = "TOKEN", help_heading = "HTTP")]
    pub token: Option<String>,

    /// For http(s)://: basic authentication user (InfluxDB 1.x with auth-enabled, Telegraf's
    /// basic_username)
    #[arg(long, value_name = "NAME", help_heading = "HTTP")]
    pub username: Option<String>,

    /// For http(s)://: basic authentication password
    #[arg(
        long,
        value_name = "PASSWORD",
        requires = "username",
        help_heading = "HTTP"
    )]
    pub password: Option<String>,

    /// For http(s)://: extra request header NAME:VALUE (repeatable), as Telegraf's http_headers
    #[arg(long = "http-header", value_name = "NAME:VALUE", value_parser = parse_http_header, help_heading = "HTTP")]
    pub http_headers: Vec<(String, String)>,

    /// For http(s)://: gzip (same as --gzip) or identity, as Telegraf's content_encoding
    #[arg(long, value_name = "ENCODING", value_parser = ["gzip", "identity"], help_heading = "HTTP")]
    pub content_encoding: Option<String>,

    /// For http(s)://: how long one request may take before it is sent again
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION", help_heading = "HTTP")]
    pub http_timeout: Duration,
}

impl HttpArgs {
    fn options(&self) -> HttpOptions {
        HttpOptions {
            token: self.token.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            http_headers: self.http_headers.clone(),
            timeout: self.http_timeout,
        }
    }
}

fn parse_http_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected NAME:VALUE"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
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
        tracing::debug!(
            "sending to {} as {}, queue of {} readings, on full: {}",
            self.to,
            telemit::Format::from(self.format),
            self.queue_size,
            clap::ValueEnum::to_possible_value(&self.on_full)
                .map_or_else(String::new, |v| v.get_name().to_owned())
        );
        let recovered = sender
            .spool_recovered()
            .filter(|r| r.records > 0 || r.damaged > 0);
        if let (Some(dir), Some(recovered)) = (&self.spool, recovered) {
            tracing::info!(
                "spool {}: {} readings from an earlier run to send first{}",
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
            .gzip(self.gzip || self.http.content_encoding.as_deref() == Some("gzip"))
            .http(self.http.options())
            .tls(TlsOptions {
                ca_file: self.tls_ca.clone(),
                cert_file: self.tls_cert.clone(),
                key_file: self.tls_key.clone(),
                server_name: self.tls_server_name.clone(),
            })
            .on_event(|event: &Event| super::log::sender_event(event)))
    }
}

/// A queue size: a count of readings, at least one (a queue of none could hold nothing).
fn parse_queue_size(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("a queue of 0 readings holds nothing: give 1 or more".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
