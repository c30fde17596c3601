//! The recorder's hot path allocates nothing: counter increments and gauge updates on a handle
//! are atomics (counted by a global allocator, per thread).

#[path = "support/allocations.rs"]
mod allocations;

use allocations::{CountingAllocator, allocations_during};
use telemit::recorder::RecorderBuilder;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn increments_and_gauge_updates_allocate_nothing() {
    let (recorder, handle) = RecorderBuilder::new().build().unwrap();
    let (counter, gauge) = metrics::with_local_recorder(&recorder, || {
        (
            metrics::counter!("requests_total", "route" => "/api"),
            metrics::gauge!("connections_open"),
        )
    });
    let allocations = allocations_during(|| {
        for i in 0..100_000u64 {
            counter.increment(1);
            gauge.set(i as f64);
            gauge.increment(1.0);
            gauge.decrement(1.0);
        }
    });
    assert_eq!(allocations, 0);
    assert!(
        handle
            .render()
            .contains("requests_total{route=\"/api\"} 100000\n")
    );
}

#[test]
fn a_registered_series_found_again_allocates_nothing() {
    // Static names and labels: the macro's key borrows them, and the registry finds the
    // existing series without building anything.
    let (recorder, _handle) = RecorderBuilder::new().build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("hits_total", "code" => "200").increment(1);
        let allocations = allocations_during(|| {
            for _ in 0..10_000 {
                metrics::counter!("hits_total", "code" => "200").increment(1);
            }
        });
        assert_eq!(allocations, 0);
    });
}

#[test]
fn histogram_records_allocate_one_block_per_64_values_at_most() {
    let (recorder, _handle) = RecorderBuilder::new().build().unwrap();
    let histogram = metrics::with_local_recorder(&recorder, || metrics::histogram!("t"));
    let allocations = allocations_during(|| {
        for i in 0..51_200 {
            histogram.record(f64::from(i));
        }
    });
    assert!(allocations <= 51_200 / 64 + 8, "{allocations}");
}
