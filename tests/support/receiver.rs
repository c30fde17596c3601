//! A `telemit::listen` receiver for tests: bound on a real socket, counting what arrives
//! through the library's `CountingSink`, and able to be killed and restarted in place.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemit::listen::{CountingSink, ListenOptions, Listener, ListenerHandle, Tally};
use telemit::{Endpoint, Format};

/// A receiver that counts what arrives (and keeps it when `keep`), tracking field `seq`.
pub struct Receiver {
    pub endpoint: Endpoint,
    /// What arrived so far: survives [`Receiver::kill`] and [`Receiver::restart`].
    pub seen: Arc<Mutex<Tally>>,
    counter: CountingSink,
    handle: Option<ListenerHandle>,
    options: ListenOptions,
}

impl Receiver {
    pub fn start(endpoint: &Endpoint, format: Format, keep: bool) -> Receiver {
        Receiver::start_with(endpoint, ListenOptions::default().with_format(format), keep)
    }

    pub fn start_with(endpoint: &Endpoint, options: ListenOptions, keep: bool) -> Receiver {
        let counter = CountingSink::new("seq").keeping(keep);
        let mut receiver = Receiver {
            endpoint: endpoint.clone(),
            seen: counter.shared(),
            counter,
            handle: None,
            options,
        };
        receiver.restart();
        receiver
    }

    /// Binds again at the same address (after [`Receiver::kill`]), keeping the counts.
    pub fn restart(&mut self) {
        let listener = Listener::bind(&self.endpoint, self.options.clone()).unwrap();
        self.endpoint = listener.endpoint().unwrap();
        self.handle = Some(listener.spawn(self.counter.sink(|_| {})).unwrap());
    }

    /// Closes the socket abruptly, like a killed Telegraf.
    pub fn kill(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop();
        }
    }

    /// Waits until `unique` distinct sequence numbers arrived or nothing new came for `quiet`.
    pub fn wait_for(&self, unique: u64, quiet: Duration) -> u64 {
        let mut last = (Instant::now(), u64::MAX);
        loop {
            let now = self.seen.lock().unwrap().sequence.unique();
            if now >= unique {
                return now;
            }
            if now != last.1 {
                last = (Instant::now(), now);
            } else if last.0.elapsed() > quiet {
                return now;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
