//! The classic demo: a reading with `value1=10` and a random `value2`, sent once a second in
//! each wire format.
//!
//! ```text
//! cargo run --example sample_readings                          # print to stdout
//! cargo run --example sample_readings -- unix:///tmp/telegraf.sock influx
//! ```

use std::time::Duration;

use telemit::{Encoder, Endpoint, Format, Precision, Reading, Sender, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint: Endpoint = args.next().as_deref().unwrap_or("-").parse()?;
    let formats: Vec<Format> = match args.next() {
        Some(name) => vec![name.parse()?],
        None => Format::ALL.to_vec(),
    };

    let mut random = 0x9e37_79b9_7f4a_7c15u64;
    for format in formats {
        println!("== {format}");
        let sender = Sender::builder(endpoint.clone(), Encoder::new(format)).start()?;
        for _ in 0..3 {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let reading = Reading::builder("example")
                .tag("host", "demo-box")
                .field("value1", 10i64)
                .field("value2", (random % 1000) as f64 / 10.0)
                .timestamp(Timestamp::now(Precision::Nanoseconds))
                .build()?;
            sender.send(&reading)?;
            std::thread::sleep(Duration::from_millis(200));
        }
        let stats = sender.shutdown();
        eprintln!("{format}: {}", stats.summary());
    }
    Ok(())
}
