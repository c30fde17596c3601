//! The [`metrics::Recorder`]: series kept in metrics-util's registry, where every handle is an
//! atomic and registering a new series is the only slow path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_util::MetricKindMask;
use metrics_util::registry::{Generational, GenerationalAtomicStorage, Recency, Registry, Storage};
use metrics_util::storage::AtomicBucket;

/// metrics-util's generational atomics, each behind one more `Arc`, so that handing out a
/// handle for a series that already exists clones an `Arc` instead of allocating a new one
/// (the `Counter::from(Generational)` conversion allocates on every registration).
struct HandleStorage(GenerationalAtomicStorage);

type Handle<T> = Arc<Generational<Arc<T>>>;

impl Storage<Key> for HandleStorage {
    type Counter = Handle<AtomicU64>;
    type Gauge = Handle<AtomicU64>;
    type Histogram = Handle<AtomicBucket<f64>>;

    fn counter(&self, key: &Key) -> Self::Counter {
        Arc::new(Storage::<Key>::counter(&self.0, key))
    }

    fn gauge(&self, key: &Key) -> Self::Gauge {
        Arc::new(Storage::<Key>::gauge(&self.0, key))
    }

    fn histogram(&self, key: &Key) -> Self::Histogram {
        Arc::new(Storage::<Key>::histogram(&self.0, key))
    }
}

use super::distribution::{Accumulated, Distributions};
use super::snapshot::{Series, Snapshot};

/// Everything the recorder, its flusher, its HTTP listener and its pusher share.
pub(crate) struct Shared {
    registry: Registry<Key, HandleStorage>,
    recency: Recency<Key>,
    /// Whether series can expire; without expiry, snapshots read the registry in place.
    expiring: bool,
    /// Serializes creating series so that the cap is exact; taken only on a registry miss.
    creating: Mutex<()>,
    series: AtomicUsize,
    max_series: usize,
    pub(crate) refused: AtomicU64,
    pub(crate) expired: AtomicU64,
    distributions: Distributions,
    /// Histogram values drained from the registry's buckets, kept across snapshots.
    accumulated: Mutex<HashMap<Key, Accumulated>>,
    descriptions: Mutex<HashMap<String, String>>,
    globals: Vec<(String, String)>,
}

impl Shared {
    pub(crate) fn new(
        max_series: usize,
        idle_timeout: Option<Duration>,
        distributions: Distributions,
        globals: Vec<(String, String)>,
    ) -> Self {
        Shared {
            registry: Registry::new(HandleStorage(GenerationalAtomicStorage::atomic())),
            recency: Recency::new(quanta::Clock::new(), MetricKindMask::ALL, idle_timeout),
            expiring: idle_timeout.is_some(),
            creating: Mutex::new(()),
            series: AtomicUsize::new(0),
            max_series,
            refused: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            distributions,
            accumulated: Mutex::new(HashMap::new()),
            descriptions: Mutex::new(HashMap::new()),
            globals,
        }
    }

    /// Series held now.
    pub(crate) fn series(&self) -> usize {
        self.series.load(Ordering::Relaxed)
    }

    /// Runs `create` if there is room for one more series; counts a refusal otherwise.
    fn admit<T>(&self, create: impl FnOnce() -> T, existing: impl Fn() -> Option<T>) -> Option<T> {
        let _guard = self.creating.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = existing() {
            return Some(handle);
        }
        if self.series.load(Ordering::Relaxed) >= self.max_series {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.series.fetch_add(1, Ordering::Relaxed);
        Some(create())
    }

    fn describe(&self, key: KeyName, description: SharedString) {
        self.descriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.as_str().to_owned(), description.into_owned());
    }

    fn labels(&self, key: &Key) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = self
            .globals
            .iter()
            .filter(|(k, _)| !key.labels().any(|l| l.key() == k))
            .cloned()
            .collect();
        labels.extend(
            key.labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned())),
        );
        labels
    }

    fn forget(&self) {
        self.series.fetch_sub(1, Ordering::Relaxed);
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Every series now, sorted by name then labels. Series idle longer than the idle timeout
    /// are removed from the registry here instead of being reported.
    pub(crate) fn snapshot(&self) -> Snapshot {
        use super::snapshot::SeriesValue;
        let mut series = Vec::with_capacity(self.series());
        if self.expiring {
            // Expiry deletes from the registry, which its read locks would block: work on a copy.
            for (key, counter) in self.registry.get_counter_handles() {
                if !self.recency.should_store_counter(
                    &key,
                    counter.get_generation(),
                    &self.registry,
                ) {
                    self.forget();
                    continue;
                }
                let total = counter.get_inner().load(Ordering::Acquire);
                series.push(self.series_of(&key, SeriesValue::Counter(total)));
            }
            for (key, gauge) in self.registry.get_gauge_handles() {
                if !self
                    .recency
                    .should_store_gauge(&key, gauge.get_generation(), &self.registry)
                {
                    self.forget();
                    continue;
                }
                let value = f64::from_bits(gauge.get_inner().load(Ordering::Acquire));
                series.push(self.series_of(&key, SeriesValue::Gauge(value)));
            }
        } else {
            self.registry.visit_counters(|key, counter| {
                let total = counter.get_inner().load(Ordering::Acquire);
                series.push(self.series_of(key, SeriesValue::Counter(total)));
            });
            self.registry.visit_gauges(|key, gauge| {
                let value = f64::from_bits(gauge.get_inner().load(Ordering::Acquire));
                series.push(self.series_of(key, SeriesValue::Gauge(value)));
            });
        }
        {
            let mut accumulated = self
                .accumulated
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (key, histogram) in self.registry.get_histogram_handles() {
                let keep = self.recency.should_store_histogram(
                    &key,
                    histogram.get_generation(),
                    &self.registry,
                );
                if !keep {
                    accumulated.remove(&key);
                    self.forget();
                    continue;
                }
                let state = accumulated
                    .entry(key.clone())
                    .or_insert_with(|| Accumulated::new(self.distributions.layout(key.name())));
                histogram.get_inner().clear_with(|values| state.add(values));
                series.push(self.series_of(&key, state.value()));
            }
        }
        series.sort_unstable_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        Snapshot {
            series,
            descriptions: self
                .descriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    fn series_of(&self, key: &Key, value: super::snapshot::SeriesValue) -> Series {
        Series {
            name: key.name().to_owned(),
            labels: self.labels(key),
            value,
        }
    }
}

/// The recorder the `metrics` macros (`counter!`, `gauge!`, `histogram!`) report to. Install it
/// with [`RecorderBuilder::install`](super::RecorderBuilder::install); build it without
/// installing with [`RecorderBuilder::build`](super::RecorderBuilder::build) (for
/// `metrics::with_local_recorder` in tests).
///
/// Handles it returns are atomics: `increment`, `set` and `record` take no lock, allocate
/// nothing per call (a histogram allocates a block per 64 values between flushes) and make no
/// system call. Once `max_series` series exist, a new one gets a handle that does nothing, and
/// the refusal is counted in [`RecorderStats::refused_series`](super::RecorderStats).
#[derive(Clone)]
pub struct TelemitRecorder {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for TelemitRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemitRecorder")
            .field("series", &self.shared.series())
            .finish_non_exhaustive()
    }
}

impl metrics::Recorder for TelemitRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let registry = &self.shared.registry;
        if let Some(handle) = registry.get_counter(key) {
            return Counter::from_arc(handle);
        }
        self.shared
            .admit(
                || registry.get_or_create_counter(key, |h| Counter::from_arc(h.clone())),
                || registry.get_counter(key).map(Counter::from_arc),
            )
            .unwrap_or_else(Counter::noop)
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let registry = &self.shared.registry;
        if let Some(handle) = registry.get_gauge(key) {
            return Gauge::from_arc(handle);
        }
        self.shared
            .admit(
                || registry.get_or_create_gauge(key, |h| Gauge::from_arc(h.clone())),
                || registry.get_gauge(key).map(Gauge::from_arc),
            )
            .unwrap_or_else(Gauge::noop)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let registry = &self.shared.registry;
        if let Some(handle) = registry.get_histogram(key) {
            return Histogram::from_arc(handle);
        }
        self.shared
            .admit(
                || registry.get_or_create_histogram(key, |h| Histogram::from_arc(h.clone())),
                || registry.get_histogram(key).map(Histogram::from_arc),
            )
            .unwrap_or_else(Histogram::noop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::SeriesValue;
    use super::*;
    use metrics::Recorder;

    static META: Metadata<'static> =
        Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

    fn recorder(max_series: usize, idle: Option<Duration>) -> TelemitRecorder {
        TelemitRecorder {
            shared: Arc::new(Shared::new(
                max_series,
                idle,
                Distributions::default(),
                vec![
                    ("host".into(), "h1".into()),
                    ("service".into(), "api".into()),
                ],
            )),
        }
    }

    #[test]
    fn counters_gauges_and_labels_with_global_tags() {
        let r = recorder(100, None);
        let key = Key::from_parts("hits", vec![metrics::Label::new("service", "web")]);
        r.register_counter(&key, &META).increment(2);
        r.register_counter(&key, &META).increment(3);
        let g = r.register_gauge(&Key::from_name("load"), &META);
        g.set(4.0);
        g.increment(1.5);
        g.decrement(0.5);
        let snap = r.shared.snapshot();
        assert_eq!(snap.series.len(), 2);
        assert_eq!(snap.series[0].name, "hits");
        assert_eq!(
            snap.series[0].labels,
            vec![
                ("host".to_owned(), "h1".to_owned()),
                ("service".to_owned(), "web".to_owned())
            ]
        );
        assert_eq!(snap.series[0].value, SeriesValue::Counter(5));
        assert_eq!(snap.series[1].value, SeriesValue::Gauge(5.0));
    }

    #[test]
    fn series_beyond_the_cap_are_refused_and_counted() {
        let r = recorder(2, None);
        for i in 0..5 {
            let key = Key::from_parts("c", vec![metrics::Label::new("i", i.to_string())]);
            r.register_counter(&key, &META).increment(1);
        }
        // An existing series still works at the cap.
        let key = Key::from_parts("c", vec![metrics::Label::new("i", "0")]);
        r.register_counter(&key, &META).increment(1);
        assert_eq!(r.shared.series(), 2);
        assert_eq!(r.shared.refused.load(Ordering::Relaxed), 3);
        let snap = r.shared.snapshot();
        assert_eq!(snap.series.len(), 2);
        assert_eq!(snap.series[0].value, SeriesValue::Counter(2));
    }

    #[test]
    fn idle_series_expire_and_free_their_place() {
        let r = recorder(1, Some(Duration::from_millis(50)));
        r.register_counter(&Key::from_name("old"), &META)
            .increment(1);
        assert_eq!(r.shared.snapshot().series.len(), 1);
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(r.shared.snapshot().series.len(), 0);
        assert_eq!(r.shared.expired.load(Ordering::Relaxed), 1);
        r.register_counter(&Key::from_name("new"), &META)
            .increment(1);
        assert_eq!(r.shared.snapshot().series[0].name, "new");
        assert_eq!(r.shared.refused.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn histograms_accumulate_across_snapshots() {
        let r = recorder(10, None);
        let h = r.register_histogram(&Key::from_name("t"), &META);
        h.record(1.0);
        h.record(3.0);
        let _ = r.shared.snapshot();
        h.record(5.0);
        let SeriesValue::Summary(s) = &r.shared.snapshot().series[0].value else {
            panic!("a summary by default")
        };
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (3, 9.0, Some(1.0), Some(5.0))
        );
    }
}
