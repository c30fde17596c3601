//! The disk spool: a receiver away for 200 000 readings behind a tiny queue gets every one,
//! in order, when it returns; a telemit killed with -9 while spooling and started again
//! delivers everything it had spooled exactly once.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Receiver, numbered};
use telemit::listen::SequenceTracker;
use telemit::{Encoder, Endpoint, Format, Sender};

fn sequence_numbers(receiver: &Receiver) -> Vec<u64> {
    let seen = receiver.seen.lock().unwrap();
    seen.kept
        .iter()
        .map(|r| SequenceTracker::sequence_of(r, "seq").unwrap())
        .collect()
}

#[test]
fn receiver_away_for_200000_readings_gets_all_in_order_when_back() {
    const TOTAL: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let sender = Sender::builder(endpoint.clone(), Encoder::new(Format::Influx))
        .queue_size(100)
        .spool(dir.path().join("spool"), 64 << 20)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .flush_timeout(Duration::from_secs(30))
        .start()
        .unwrap();
    for seq in 0..TOTAL {
        sender.send(&numbered(seq)).unwrap();
    }
    let waiting = sender.stats();
    assert!(
        waiting.spool_depth > TOTAL - 1_000,
        "the spool holds what the queue cannot: {}",
        waiting.summary()
    );
    let receiver = Receiver::start(&endpoint, Format::Influx, true);
    let stats = sender.shutdown();
    assert_eq!(stats.written, TOTAL, "{}", stats.summary());
    assert_eq!(stats.dropped_total(), 0, "{}", stats.summary());
    assert_eq!(stats.spool_depth, 0, "{}", stats.summary());
    assert_eq!(receiver.wait_for(TOTAL, Duration::from_secs(5)), TOTAL);
    let order = sequence_numbers(&receiver);
    assert_eq!(order, (0..TOTAL).collect::<Vec<_>>(), "in order, once each");
}

#[test]
fn killed_while_spooling_and_restarted_delivers_the_spool_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let socket = dir.path().join("telegraf.sock");
    let to = format!("unix://{}", socket.display());
    let mut first = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "pipe",
            "--quiet",
            "--queue-size",
            "10",
            "--to",
            &to,
            "--spool",
        ])
        .arg(&spool)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for seq in 0u64.. {
            let line = format!("load,host=web-01 value={}.5,seq={seq}u\n", seq % 1000);
            if stdin.write_all(line.as_bytes()).is_err() {
                return seq;
            }
        }
        unreachable!()
    });
    // Spool for a while, then kill in the middle of it.
    std::thread::sleep(Duration::from_millis(700));
    first.kill().unwrap();
    first.wait().unwrap();
    let fed = feeder.join().unwrap();
    assert!(fed > 10_000, "only {fed} lines were taken before the kill");

    let receiver = Receiver::start(&Endpoint::Unix(socket), Format::Influx, true);
    let second = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--to", &to, "--spool"])
        .arg(&spool)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    let spooled: u64 = stderr
        .split("spool ")
        .nth(1)
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no spool report in {stderr:?}"));
    assert!(spooled > 5_000, "{stderr}");
    assert_eq!(receiver.wait_for(spooled, Duration::from_secs(5)), spooled);
    std::thread::sleep(Duration::from_millis(200));
    let order = sequence_numbers(&receiver);
    assert_eq!(order.len() as u64, spooled, "exactly once: {stderr}");
    // What was spooled is one unbroken run of readings: the kill lost only what was still in
    // memory (the queue, before the spool took over) and at most the record being written.
    let first_seq = order[0];
    assert_eq!(
        order,
        (first_seq..first_seq + spooled).collect::<Vec<_>>(),
        "{stderr}"
    );
    assert!(first_seq <= 20, "readings spooled from seq {first_seq}");
}

#[test]
fn a_full_spool_applies_the_drop_policy_and_counts_every_reading() {
    for policy in [telemit::OnFull::DropNewest, telemit::OnFull::DropOldest] {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
        let sender = Sender::builder(endpoint.clone(), Encoder::new(Format::Influx))
            .queue_size(100)
            .on_full(policy)
            .spool(dir.path().join("spool"), 64 * 1024)
            .flush_timeout(Duration::from_millis(200))
            .start()
            .unwrap();
        for seq in 0..10_000 {
            let _ = sender.send(&numbered(seq));
        }
        let during = sender.stats();
        assert!(
            during.dropped(telemit::DropReason::QueueFull) > 5_000,
            "{policy:?}: {}",
            during.summary()
        );
        let stats = sender.shutdown();
        // Nothing was written; every reading is in the spool or counted as dropped.
        assert_eq!(stats.written, 0);
        assert_eq!(
            stats.spool_depth + stats.dropped_total(),
            10_000,
            "{policy:?}: {}",
            stats.summary()
        );
        // Drop-oldest keeps the newest readings; drop-newest the oldest.
        let receiver = Receiver::start(&endpoint, Format::Influx, true);
        let replay = Sender::builder(endpoint.clone(), Encoder::new(Format::Influx))
            .spool(dir.path().join("spool"), 64 * 1024)
            .start()
            .unwrap();
        let stats = replay.shutdown();
        assert_eq!(
            receiver.wait_for(stats.written, Duration::from_secs(3)),
            stats.written
        );
        let order = sequence_numbers(&receiver);
        let newest = *order.iter().max().unwrap();
        match policy {
            telemit::OnFull::DropNewest => assert!(newest < 2_000, "newest kept: {newest}"),
            _ => assert_eq!(newest, 9_999),
        }
    }
}
