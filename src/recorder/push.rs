//! Pushing the exposition to a Prometheus Pushgateway, or to any HTTP endpoint that takes
//! Prometheus text (Telegraf's `inputs.http_listener_v2` with `data_format = "prometheus"`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use super::RecorderError;
use super::exposition::CONTENT_TYPE;

/// Where and how to push.
///
/// With a base URL whose path is empty or `/` (`http://127.0.0.1:9091`), pushes go to the
/// Pushgateway's `PUT /metrics/job/<job>{/<label>/<value>}` API: `PUT` replaces every metric of
/// the group, as the Pushgateway documentation describes. Every label value is written in the
/// `<label>@base64/<value>` form the Pushgateway accepts, so a value may hold `/` or be empty.
/// With any other path (`http://127.0.0.1:8186/telegraf`) the URL is used as given and job and
/// grouping labels are not sent: that is Telegraf's `inputs.http_listener_v2`.
#[derive(Debug, Clone)]
pub struct PushConfig {
    pub(crate) url: String,
    pub(crate) job: String,
    pub(crate) grouping: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) basic_auth: Option<(String, String)>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
}

impl PushConfig {
    /// Pushes to `url` as job `job` every 10 s and at shutdown; 3 attempts per push, 250 ms
    /// apart and doubling; each attempt times out after 5 s.
    pub fn new(url: impl Into<String>, job: impl Into<String>) -> Result<Self, RecorderError> {
        let url = url.into();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| RecorderError::PushUrl(url.clone(), "scheme is not http or https"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(RecorderError::PushUrl(url, "no host"));
        }
        let job = job.into();
        if job.is_empty() {
            return Err(RecorderError::PushUrl(url, "the job name is empty"));
        }
        Ok(PushConfig {
            url,
            job,
            grouping: Vec::new(),
            headers: Vec::new(),
            basic_auth: None,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(250),
        })
    }

    /// Adds a grouping key label (for example `instance`), in the URL path after the job.
    #[must_use]
    pub fn grouping(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.grouping.push((label.into(), value.into()));
        self
    }

    /// Adds an HTTP header sent with every push (for example `Authorization: Bearer …`).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends HTTP basic authentication.
    #[must_use]
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// How often to push (besides the push at shutdown).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Attempts per push (at least 1) and the wait before the second, doubled for each later
    /// one.
    #[must_use]
    pub fn retry(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The time one attempt may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL pushes go to.
    pub fn target(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("http", &self.url));
        let path = rest.find('/').map_or("", |i| &rest[i..]);
        if !path.is_empty() && path != "/" {
            return self.url.clone();
        }
        let mut target = format!("{scheme}://{}/metrics", rest.trim_end_matches('/'));
        for (label, value) in std::iter::once(("job", self.job.as_str()))
            .chain(self.grouping.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            target.push('/');
            target.push_str(label);
            target.push_str("@base64/");
            // The Pushgateway reads `=` padding as an empty value only when there is nothing else.
            let encoded = URL_SAFE.encode(value);
            target.push_str(if encoded.is_empty() { "=" } else { &encoded });
        }
        target
    }
}

/// Pushes and retries; the outcome of the last attempt.
pub(crate) struct Pusher {
    config: PushConfig,
    agent: ureq::Agent,
    target: String,
}

impl Pusher {
    pub(crate) fn new(config: PushConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let target = config.target();
        Pusher {
            config,
            agent,
            target,
        }
    }

    pub(crate) fn interval(&self) -> Duration {
        self.config.interval
    }

    /// One push of `body`, with retries; `stop` cuts the waits between attempts short.
    pub(crate) fn push(&self, body: &str, stop: impl Fn(Duration) -> bool) -> Result<(), String> {
        let mut wait = self.config.backoff;
        let mut last = String::new();
        for attempt in 0..self.config.attempts {
            if attempt > 0 {
                if stop(wait) {
                    break;
                }
                wait = wait.saturating_mul(2);
            }
            match self.attempt(body) {
                Ok(()) => return Ok(()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn attempt(&self, body: &str) -> Result<(), String> {
        let mut request = self.agent.put(&self.target).content_type(CONTENT_TYPE);
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((user, password)) = &self.config.basic_auth {
            let token = STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        match request.send(body) {
            Ok(mut response) if response.status().is_success() => {
                let _ = response.body_mut().read_to_string();
                Ok(())
            }
            Ok(mut response) => {
                let status = response.status();
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(1024)
                    .read_to_string()
                    .unwrap_or_default();
                Err(format!("{}: HTTP {status}: {}", self.target, text.trim()))
            }
            Err(error) => Err(format!("{}: {error}", self.target)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushgateway_path_carries_job_and_grouping_in_base64() {
        let config = PushConfig::new("http://127.0.0.1:9091/", "my job")
            .unwrap()
            .grouping("instance", "a/b")
            .grouping("empty", "");
        assert_eq!(
            config.target(),
            "http://127.0.0.1:9091/metrics/job@base64/bXkgam9i/instance@base64/YS9i/empty@base64/="
        );
    }

    #[test]
    fn a_url_with_a_path_is_used_as_given() {
        let config = PushConfig::new("http://127.0.0.1:8186/telegraf", "j").unwrap();
        assert_eq!(config.target(), "http://127.0.0.1:8186/telegraf");
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        assert_eq!(
            PushConfig::new("127.0.0.1:9091", "j")
                .unwrap_err()
                .to_string(),
            "push URL \"127.0.0.1:9091\": scheme is not http or https"
        );
        assert!(PushConfig::new("http://", "j").is_err());
        assert!(PushConfig::new("http://h", "").is_err());
    }
}
