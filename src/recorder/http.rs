//! Serving the exposition at `GET /metrics` for Prometheus or Telegraf's `inputs.prometheus`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use super::RecorderError;
use super::builder::Counters;
use super::exposition::{CONTENT_TYPE, exposition};
use super::registry::Shared;

/// A running `/metrics` listener.
pub(crate) struct Listener {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub(crate) local_addr: SocketAddr,
}

impl Listener {
    pub(crate) fn start(
        addr: SocketAddr,
        shared: Arc<Shared>,
        counters: Arc<Counters>,
    ) -> Result<Self, RecorderError> {
        let server = tiny_http::Server::http(addr).map_err(|e| RecorderError::Listen {
            addr,
            message: e.to_string(),
        })?;
        let local_addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| RecorderError::Listen {
                addr,
                message: "not an IP address".into(),
            })?;
        let server = Arc::new(server);
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("telemit-metrics-http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    respond(request, &shared, &counters);
                }
            })
            .map_err(|e| RecorderError::Listen {
                addr,
                message: e.to_string(),
            })?;
        Ok(Listener {
            server,
            thread: Some(thread),
            local_addr,
        })
    }

    pub(crate) fn stop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(request: tiny_http::Request, shared: &Shared, counters: &Counters) {
    use tiny_http::{Header, Method, Response};
    let path = request.url().split('?').next().unwrap_or("");
    let get = matches!(request.method(), Method::Get | Method::Head);
    let response = if path != "/metrics" {
        Response::from_string("not found: the metrics are at /metrics\n").with_status_code(404)
    } else if !get {
        Response::from_string("method not allowed: use GET\n").with_status_code(405)
    } else {
        counters.scrapes.fetch_add(1, Ordering::Relaxed);
        let text = exposition(&shared.snapshot());
        let header =
            Header::from_bytes("Content-Type", CONTENT_TYPE).expect("a constant header is valid");
        Response::from_string(text).with_header(header)
    };
    // A client that went away is no error of ours.
    let _ = request.respond(response);
}
