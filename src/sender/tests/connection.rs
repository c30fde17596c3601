//! The connection's life on the in-memory transport: outages, backoff, reopening, and
//! resending what the peer had not taken.

use super::*;

#[test]
fn an_outage_is_reported_once_when_it_opens_and_once_when_it_ends() {
    let memory = MemoryTransport::new();
    memory.refuse_connections(true);
    let (sender, events) = sender(&memory, |b| b);
    sender.send(&reading(1)).unwrap();
    wait_until("several attempts failed", || memory.attempts() >= 4);
    assert_eq!(
        count(&events, |e| matches!(e, Event::ConnectFailed { .. })),
        1,
        "one event per outage, not one per attempt: {events:?}"
    );
    assert!(memory.bytes().is_empty());

    memory.refuse_connections(false);
    assert!(memory.wait_for_bytes(line(1).len(), Duration::from_secs(5)));
    let attempts = memory.attempts();
    let stats = sender.shutdown();
    assert_eq!(memory.bytes(), line(1));
    let events = events.lock().unwrap();
    let ended: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Reconnected {
                failures, resent, ..
            } => Some((*failures, *resent)),
            _ => None,
        })
        .collect();
    assert_eq!(ended, [(attempts as u32 - 1, 0)], "{events:?}");
    assert_eq!(stats.reconnects, 1);
    assert_eq!(stats.dropped_total(), 0);
}

#[test]
fn failed_attempts_back_off_exponentially_with_jitter() {
    let memory = MemoryTransport::new();
    memory.refuse_connections(true);
    let (sender, events) = sender(&memory, |b| {
        b.backoff(Duration::from_millis(40), Duration::from_secs(10))
            .flush_timeout(Duration::ZERO)
    });
    sender.send(&reading(1)).unwrap();
    // Delays of 20–40, 40–80, 80–160, 160–320 ms: at most 5 attempts in 400 ms (at least 2 on a busy host),
    // where a writer without backoff would make thousands.
    std::thread::sleep(Duration::from_millis(400));
    let attempts = memory.attempts();
    assert!((2..=5).contains(&attempts), "{attempts} attempts in 400 ms");
    let first_delay = events.lock().unwrap().iter().find_map(|e| match e {
        Event::ConnectFailed { retry_in, .. } => Some(*retry_in),
        _ => None,
    });
    let first_delay = first_delay.expect("the outage was reported");
    assert!(
        first_delay >= Duration::from_millis(20) && first_delay < Duration::from_millis(40),
        "{first_delay:?}"
    );
    let stats = sender.shutdown();
    assert_eq!(stats.dropped(DropReason::SendError), 1);
}

#[test]
fn reopen_after_closes_gracefully_and_opens_a_new_connection() {
    let memory = MemoryTransport::new();
    let (sender, events) = sender(&memory, |b| b.reopen_after(Some(2)));
    let mut expected = Vec::new();
    for n in 0..6 {
        sender.send(&reading(n)).unwrap();
        expected.extend(line(n));
        assert!(memory.wait_for_bytes(expected.len(), Duration::from_secs(5)));
    }
    wait_until("the third connection is closed", || memory.closes() == 3);
    let stats = sender.shutdown();
    assert_eq!(memory.bytes(), expected);
    assert_eq!(memory.connections(), 3, "one connection per two readings");
    assert_eq!(stats.reopens, 2, "{}", stats.summary());
    assert_eq!(stats.reconnects, 0, "planned reopens are not reconnects");
    assert_eq!(stats.written, 6);
    assert!(
        events.lock().unwrap().is_empty(),
        "reopening is not an outage: {events:?}"
    );
}

#[test]
fn what_the_peer_had_not_taken_is_sent_again_after_a_failed_write() {
    let memory = MemoryTransport::new();
    let (sender, events) = sender(&memory, |b| b);
    memory.hold(true);
    sender.send(&reading(1)).unwrap();
    wait_until("the first reading is written", || {
        memory.held_bytes() == line(1).len()
    });
    memory.fail_writes(true);
    sender.send(&reading(2)).unwrap();
    wait_until("a write broke the connection", || memory.breaks() >= 1);
    memory.fail_writes(false);
    memory.hold(false);
    let expected = [line(1), line(2)].concat();
    assert!(memory.wait_for_bytes(expected.len(), Duration::from_secs(5)));
    let stats = sender.shutdown();
    assert_eq!(memory.bytes(), expected, "resent once, in order");
    assert_eq!(stats.written, 2, "a resent reading is not counted twice");
    assert_eq!(stats.dropped_total(), 0);
    let events = events.lock().unwrap();
    assert_eq!(
        count_in(&events, |e| matches!(e, Event::ConnectionLost { .. })),
        1,
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Reconnected { resent: 1, .. })),
        "{events:?}"
    );
}

#[test]
fn reopen_interval_reopens_by_age_and_counts_reopens_apart() {
    let memory = MemoryTransport::new();
    let (sender, events) = sender(&memory, |b| {
        b.reopen_interval(Some(Duration::from_millis(40)))
    });
    let mut expected = Vec::new();
    for n in 0..6 {
        sender.send(&reading(n)).unwrap();
        expected.extend(line(n));
        assert!(memory.wait_for_bytes(expected.len(), Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = sender.shutdown();
    assert_eq!(memory.bytes(), expected);
    // Every write after the first finds its connection older than the interval.
    assert_eq!(memory.connections(), 6, "{}", stats.summary());
    assert_eq!(stats.reopens, 5, "{}", stats.summary());
    assert_eq!(stats.reconnects, 0);
    assert!(events.lock().unwrap().is_empty(), "{events:?}");
}

#[test]
fn reopen_after_counts_readings_and_splits_a_batch_where_the_count_falls() {
    let memory = MemoryTransport::new();
    // Readings gather in the queue while no connection can be opened: one batch of 7.
    memory.refuse_connections(true);
    let (sender, _events) = sender(&memory, |b| b.reopen_after(Some(3)));
    for n in 0..7 {
        sender.send(&reading(n)).unwrap();
    }
    memory.refuse_connections(false);
    let stats = sender.shutdown();
    let expected: Vec<u8> = (0..7).flat_map(line).collect();
    assert_eq!(memory.bytes(), expected);
    // 3 + 3 + 1 readings: three connections, two planned reopens.
    assert_eq!(memory.connections(), 3, "{}", stats.summary());
    assert_eq!(stats.reopens, 2, "{}", stats.summary());
    assert_eq!(stats.written, 7);
}

/// A receiver that closes, unread, right after a write succeeded frees what it had not read,
/// so the kernel's count of untaken bytes drops to zero: trusted, it would say the reading was
/// taken. The check after the write finds the receiver closed, and the reading is written
/// again on the next connection.
#[test]
fn a_write_the_receiver_closed_on_unread_is_written_again() {
    let memory = MemoryTransport::new();
    let (sender, events) = sender(&memory, |b| b);
    memory.close_after_next_write();
    sender.send(&reading(0)).unwrap();
    wait_until("the receiver closed", || memory.breaks() == 1);
    sender.send(&reading(1)).unwrap();
    let stats = sender.shutdown();
    let expected: Vec<u8> = (0..2).flat_map(line).collect();
    assert_eq!(memory.bytes(), expected, "{}", stats.summary());
    assert_eq!((stats.written, stats.dropped_total()), (2, 0));
    assert_eq!(memory.connections(), 2);
    assert_eq!(
        count(&events, |e| matches!(e, Event::ConnectionLost { .. })),
        1,
        "{events:?}"
    );
}

/// The same receiver with no second connection to be had: the reading is taken back from
/// "written" and counted as dropped when the flush timeout runs out.
#[test]
fn a_write_the_receiver_closed_on_is_not_counted_as_written() {
    let memory = MemoryTransport::new();
    // A long backoff, so that no new connection is tried before connections are refused.
    let (sender, _events) = sender(&memory, |b| {
        b.flush_timeout(Duration::from_millis(200))
            .backoff(Duration::from_secs(2), Duration::from_secs(2))
    });
    memory.close_after_next_write();
    sender.send(&reading(0)).unwrap();
    wait_until("the receiver closed", || memory.breaks() == 1);
    memory.refuse_connections(true);
    let stats = sender.shutdown();
    assert!(memory.bytes().is_empty());
    assert_eq!(stats.written, 0, "{}", stats.summary());
    assert_eq!(
        stats.dropped(DropReason::SendError),
        1,
        "{}",
        stats.summary()
    );
}
