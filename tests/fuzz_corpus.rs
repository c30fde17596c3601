//! Replays the committed fuzz corpus (`fuzz/corpus/TARGET/*`, minimised, crashes included)
//! through the same checks the fuzz targets run, so that `cargo test` keeps every input the
//! fuzzer found interesting from ever panicking again.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} panicked (input {:?})",
            path.display(),
            String::from_utf8_lossy(&data)
        );
        inputs += 1;
    }
    assert!(inputs > 0, "{}: no corpus", dir.display());
}

#[test]
fn encode_roundtrip_corpus() {
    replay("encode_roundtrip", checks::encode_roundtrip);
}

#[test]
fn endpoint_corpus() {
    replay("endpoint", checks::endpoint);
}

#[test]
fn json_reading_corpus() {
    replay("json_reading", checks::json_reading);
}

#[test]
fn line_protocol_corpus() {
    replay("line_protocol", checks::line_protocol);
}

#[test]
fn listen_payload_corpus() {
    replay("listen_payload", checks::listen_payload);
}

#[test]
fn mapping_corpus() {
    replay("mapping", checks::mapping);
}

#[test]
fn mapping_file_corpus() {
    replay("mapping_file", checks::mapping_file);
}

#[test]
fn extraction_corpus() {
    replay("extraction", checks::extraction);
}

#[test]
fn wavefront_line_corpus() {
    replay("wavefront_line", checks::wavefront_line);
}

#[test]
fn telegraf_json_corpus() {
    replay("telegraf_json", checks::telegraf_json);
}
