use super::*;

fn push(queue: &Queue, policy: OnFull, text: &str) -> Pushed {
    queue.push(policy, text.as_bytes())
}

#[test]
fn drop_policies() {
    let queue = Queue::new(2, false);
    assert_eq!(
        push(&queue, OnFull::DropOldest, "a\n"),
        Pushed::Queued { dropped_oldest: 0 }
    );
    push(&queue, OnFull::DropOldest, "b\n");
    assert_eq!(
        push(&queue, OnFull::DropOldest, "c\n"),
        Pushed::Queued { dropped_oldest: 1 }
    );
    assert_eq!(
        push(&queue, OnFull::DropNewest, "d\n"),
        Pushed::DroppedNewest
    );
    let mut batch = Pending::default();
    assert!(queue.take(&mut batch, None));
    assert_eq!(batch.live_bytes(), b"b\nc\n");
    assert_eq!(batch.records().collect::<Vec<_>>(), [&b"b\n"[..], b"c\n"]);
    queue.close();
    assert_eq!(push(&queue, OnFull::Block, "e\n"), Pushed::Closed);
    assert!(!queue.take(&mut batch, None));
}

#[test]
fn credits_left_unused_in_one_shard_are_room_for_another() {
    // 64 slots over 2 shards: a shard takes 8 at a time.
    let queue = Queue::with_shards(64, false, 2);
    let mut batch = Pending::default();
    assert_eq!(
        queue.push_to(0, OnFull::DropNewest, b"a\n"),
        Pushed::Queued { dropped_oldest: 0 }
    );
    assert!(queue.take_now(&mut batch));
    assert_eq!(batch.len(), 1);
    // Shard 0 still holds 7 unused slots; shard 1 gets all 64 all the same, and no more.
    for _ in 0..64 {
        assert_eq!(
            queue.push_to(1, OnFull::DropNewest, b"b\n"),
            Pushed::Queued { dropped_oldest: 0 }
        );
    }
    assert_eq!(
        queue.push_to(1, OnFull::DropNewest, b"c\n"),
        Pushed::DroppedNewest
    );
    assert_eq!(
        queue.push_to(0, OnFull::DropNewest, b"c\n"),
        Pushed::DroppedNewest
    );
    assert_eq!(queue.depth(), 64);
    // Dropping the oldest from a shard that has none takes another shard's oldest.
    assert_eq!(
        queue.push_to(0, OnFull::DropOldest, b"d\n"),
        Pushed::Queued { dropped_oldest: 1 }
    );
    assert_eq!(queue.depth(), 64);
    assert!(queue.take_now(&mut batch));
    assert_eq!(batch.len(), 64);
    let records: Vec<&[u8]> = batch.records().collect();
    assert_eq!(records.iter().filter(|r| **r == b"b\n").count(), 63);
    assert_eq!(records.iter().filter(|r| **r == b"d\n").count(), 1);
}

/// Producers on every shard, a writer taking slower than they push: each producer's
/// readings arrive once and in order, the bound holds, and every reading is either taken
/// or counted as dropped.
fn many_producers(policy: OnFull) {
    const PRODUCERS: u64 = 6;
    const EACH: u64 = 5_000;
    const CAPACITY: usize = 100;
    let queue = std::sync::Arc::new(Queue::with_shards(CAPACITY, false, 4));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut dropped = 0;
                for n in 0..EACH {
                    let record = format!("{p} {n}\n");
                    match queue.push_to(p as usize % 4, policy, record.as_bytes()) {
                        Pushed::Queued { dropped_oldest } => dropped += dropped_oldest,
                        Pushed::DroppedNewest => dropped += 1,
                        Pushed::Closed => unreachable!("the queue stays open"),
                    }
                }
                dropped
            })
        })
        .collect();
    let mut last = vec![None::<u64>; PRODUCERS as usize];
    let mut taken = 0;
    let mut batch = Pending::default();
    while !producers.iter().all(|p| p.is_finished()) || queue.depth() > 0 {
        queue.take_now(&mut batch);
        assert!(batch.len() <= CAPACITY, "a batch of {}", batch.len());
        for record in batch.records() {
            let text = std::str::from_utf8(record).unwrap();
            let (p, n) = text.trim_end().split_once(' ').unwrap();
            let (p, n): (usize, u64) = (p.parse().unwrap(), n.parse().unwrap());
            assert!(
                last[p].is_none_or(|before| before < n),
                "{p}: {n} after {last:?}"
            );
            last[p] = Some(n);
            taken += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let dropped: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    assert_eq!(taken + dropped, PRODUCERS * EACH);
    match policy {
        OnFull::Block => assert_eq!(dropped, 0),
        _ => assert!(dropped > 0, "the writer is slower: some must drop"),
    }
    if policy == OnFull::Block {
        for (p, last) in last.iter().enumerate() {
            assert_eq!(*last, Some(EACH - 1), "producer {p}'s newest reading");
        }
    }
}

#[test]
fn many_producers_block() {
    many_producers(OnFull::Block);
}

#[test]
fn many_producers_drop_oldest() {
    many_producers(OnFull::DropOldest);
}

#[test]
fn many_producers_drop_newest() {
    many_producers(OnFull::DropNewest);
}

#[test]
fn a_lone_reading_wakes_the_sleeping_writer() {
    let queue = std::sync::Arc::new(Queue::new(10, false));
    let writer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut batch = Pending::default();
            let open = queue.take(&mut batch, None);
            (open, batch.live_bytes().to_vec())
        })
    };
    // The writer is asleep on the empty queue by now (if not, it finds the reading anyway).
    std::thread::sleep(Duration::from_millis(50));
    push(&queue, OnFull::Block, "a\n");
    // Without a wake-up it would sleep for good: a generous bound against a busy machine.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !writer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(writer.is_finished(), "the writer slept through the reading");
    let (open, bytes) = writer.join().unwrap();
    assert!(open);
    assert_eq!(bytes, b"a\n");
}

#[test]
fn a_full_batch_from_one_shard_is_written_alone_and_the_next_starts_with_the_others() {
    let queue = Queue::with_shards(10_000, false, 2);
    let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
    for _ in 0..FULL_BATCH_BYTES / line.len() + 1 {
        queue.push_to(0, OnFull::Block, &line);
    }
    queue.push_to(1, OnFull::Block, b"small\n");
    let mut batch = Pending::default();
    assert!(queue.take(&mut batch, None));
    assert!(batch.records().all(|r| r == line), "shard 0 alone");
    queue.push_to(0, OnFull::Block, b"later\n");
    assert!(queue.take(&mut batch, None));
    assert_eq!(
        batch.live_bytes(),
        b"small\nlater\n",
        "shard 1 first, then shard 0"
    );
    assert_eq!(queue.depth(), 0);
}

#[test]
fn block_waits_for_room() {
    let queue = std::sync::Arc::new(Queue::new(1, false));
    push(&queue, OnFull::Block, "a\n");
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || push(&queue, OnFull::Block, "b\n"))
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        !producer.is_finished(),
        "producer must wait while the queue is full"
    );
    let mut batch = Pending::default();
    queue.take(&mut batch, None);
    assert_eq!(
        producer.join().unwrap(),
        Pushed::Queued { dropped_oldest: 0 }
    );
    queue.take(&mut batch, None);
    assert_eq!(batch.live_bytes(), b"b\n");
}
