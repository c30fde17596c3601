//! A program reporting its own progress through telemit while it works: the library use.
//!
//! ```text
//! telemit listen --on unix:///tmp/telegraf.sock &
//! cargo run --example job_progress -- unix:///tmp/telegraf.sock
//! ```

use telemit::{Encoder, Endpoint, Format, OnFull, Reading, Sender};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint: Endpoint = std::env::args().nth(1).as_deref().unwrap_or("-").parse()?;
    let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
        // A progress report is worth less than the job: never slow the job down for it.
        .on_full(OnFull::DropOldest)
        .on_event(|event| eprintln!("telemit: {event}"))
        .start()?;

    let total_rows = 10_000u64;
    for done in (0..=total_rows).step_by(1_000) {
        // ... the real work would happen here ...
        let reading = Reading::builder("job")
            .tag("name", "nightly import")
            .field("rows", done)
            .field("progress", done as f64 / total_rows as f64)
            .build()?;
        sender.send(&reading)?;
    }

    let stats = sender.shutdown();
    eprintln!("{}", stats.summary());
    Ok(())
}
