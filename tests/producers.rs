//! Producer threads sharing one `Sender`: through the library to a real Unix socket, and
//! `telemit bench --producers`.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::sync::Arc;

use telemit::{Encoder, Endpoint, Format, Reading, Sender};

fn reading(producer: u64, n: u64) -> Reading {
    Reading::builder("load")
        .tag("producer", producer.to_string())
        .field("n", n)
        .build()
        .unwrap()
}

/// Eight threads send through one sender with a small queue (so that they block on it and the
/// writer takes from every shard at once): every reading arrives exactly once, and each
/// thread's readings arrive in the order it sent them.
#[test]
fn eight_producers_deliver_everything_once_each_in_its_own_order() {
    const PRODUCERS: u64 = 8;
    const EACH: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("producers.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).unwrap();
        all
    });
    let sender = Arc::new(
        Sender::builder(Endpoint::Unix(path), Encoder::new(Format::Influx))
            .queue_size(500)
            .start()
            .unwrap(),
    );
    let threads: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for n in 0..EACH {
                    sender.send(&reading(p, n)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = sender.shutdown();
    drop(sender);
    let received = receiver.join().unwrap();
    assert_eq!(stats.written, PRODUCERS * EACH, "{}", stats.summary());
    assert_eq!(stats.dropped_total(), 0, "{}", stats.summary());
    let mut next: HashMap<u64, u64> = HashMap::new();
    for line in received.lines() {
        // load,producer=P n=Nu
        let (tags, field) = line.split_once(' ').unwrap();
        let producer: u64 = tags
            .strip_prefix("load,producer=")
            .unwrap()
            .parse()
            .unwrap();
        let n: u64 = field
            .strip_prefix("n=")
            .and_then(|n| n.strip_suffix('u'))
            .unwrap()
            .parse()
            .unwrap();
        let expected = next.entry(producer).or_insert(0);
        assert_eq!(n, *expected, "producer {producer}: {line}");
        *expected += 1;
    }
    assert_eq!(next.len() as u64, PRODUCERS);
    assert!(next.values().all(|&n| n == EACH), "{next:?}");
}

/// `telemit bench --producers 3 --count 1000`: the count split 334/333/333, sequence numbers
/// 0 to 999 each sent once, and a report with the total and per-producer rates.
#[test]
fn bench_producers_split_the_count_and_number_readings_without_overlap() {
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "bench",
            "--producers",
            "3",
            "--count",
            "1000",
            "--to",
            "-",
            "--json",
            "--quiet",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut seqs: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let at = line
                .find("seq=")
                .unwrap_or_else(|| panic!("no seq: {line}"));
            let rest = &line[at + 4..];
            rest[..rest.find('i').unwrap()].parse().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..1000).collect::<Vec<u64>>());
    let report: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(report["producers"], 3);
    assert_eq!(report["written"], 1000);
    let sent: Vec<u64> = report["per_producer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sent"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [334, 333, 333]);
    let total = report["readings_per_second"].as_f64().unwrap();
    let each = report["readings_per_second_per_producer"].as_f64().unwrap();
    assert!(total > 0.0, "{report}");
    assert!((each * 3.0 - total).abs() < total * 1e-9, "{report}");
}

#[test]
fn bench_producers_must_be_at_least_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["bench", "--producers", "0", "--count", "1", "--to", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--producers"), "{stderr}");
    assert!(stderr.contains("0 is not in 1..=1024"), "{stderr}");
}
