//! `telemit pipe` forwarding canonical line protocol as it came: the bytes that go out are the
//! bytes parse-and-encode writes, and every other line keeps its report and its count.

use std::process::Output;

use telemit::input::line_protocol::parse_line;
use telemit::sender::MemoryTransport;
use telemit::{Encoder, Format, Precision, SendError, Sender};

#[allow(dead_code)]
#[path = "support/samples.rs"]
mod samples;

#[allow(dead_code)]
#[path = "support/processes.rs"]
mod processes;

fn telemit(args: &[&str], stdin: &[u8]) -> Output {
    processes::run_telemit(args, &[], stdin, std::process::Stdio::piped())
}

/// What the parse-and-encode path writes for each line of `input`: the parser's reading,
/// encoded in influx at nanoseconds.
fn parse_and_encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in std::str::from_utf8(input).unwrap().lines() {
        if let Ok(Some(reading)) = parse_line(line, Precision::Nanoseconds) {
            let _ = Encoder::new(Format::Influx).encode(&reading, &mut out);
        }
    }
    out
}

#[test]
fn canonical_input_goes_out_byte_for_byte() {
    let encoder = Encoder::new(Format::Influx);
    let mut input = Vec::new();
    let readings = samples::escape_heavy_readings(300)
        .into_iter()
        .chain((0..200).map(samples::request_timing))
        .chain((0..50).map(samples::numbered));
    let mut count = 0;
    for reading in readings {
        encoder.encode(&reading, &mut input).unwrap();
        count += 1;
    }
    input.extend_from_slice(
        "every\\ type,t\\=k=C:\\dir\\x f=-1.5e-7,i=-42i,u=42u,t=true,f2=false,s=\"a \\\"q\\\" \\\\ 日本\" 1700000000000000099\n"
            .as_bytes(),
    );
    count += 1;
    let out = telemit(&["pipe"], &input);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "telemit: read {count} lines, wrote {count} readings, rejected 0 lines (0 bad, 0 not sendable), dropped 0\n"
        )
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == input, "forwarded unchanged");
    assert!(
        out.stdout == parse_and_encode(&input),
        "the same bytes as parse and encode"
    );
}

#[test]
fn other_lines_keep_their_path_their_reports_and_their_counts() {
    let input: &[u8] = b"cpu,host=a load=0.5,n=3i 1700000000000000000\n\
cpu,host=b load=.5,up=t 1700000000000000001\n\
bad line\n\
\n\
# a comment\n\
cpu,host=c,host=d load=1 1700000000000000002\n\
cpu\tload=2.0\r\n\
cpu load=\"\xff\"\n\
cpu,host=a load=0.25 1700000000000000003 \n\
this line is longer than the sixty-four bytes that --max-line allows here\n\
cpu,host=e load=1.0,load=2.0\n\
cpu,host=a load=0.75";
    let out = telemit(&["pipe", "--max-line", "64"], input);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cpu,host=a load=0.5,n=3i 1700000000000000000\n\
         cpu,host=b load=0.5,up=true 1700000000000000001\n\
         cpu,host=d load=1.0 1700000000000000002\n\
         cpu load=2.0\n\
         cpu,host=a load=0.25 1700000000000000003\n\
         cpu,host=e load=2.0\n\
         cpu,host=a load=0.75\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "telemit: line 3, column 9: expected '=' after the field key, found the end of the line: \"bad line\"\n\
         telemit: line 8, column 11: not UTF-8: \"cpu load=\\\"\u{fffd}\\\"\"\n\
         telemit: line 10: longer than 64 bytes (73 bytes); skipped (raise --max-line)\n\
         telemit: read 10 lines, wrote 7 readings, rejected 3 lines (3 bad, 0 not sendable), dropped 0; 2 readings had a key given twice, collapsed to its last value as Telegraf does\n"
    );
    assert_eq!(out.status.code(), Some(1));

    let strict = telemit(&["pipe", "--strict"], input);
    assert_eq!(
        String::from_utf8_lossy(&strict.stdout),
        "cpu,host=a load=0.5,n=3i 1700000000000000000\n\
         cpu,host=b load=0.5,up=true 1700000000000000001\n"
    );
    assert!(
        String::from_utf8_lossy(&strict.stderr).ends_with(
            "telemit: stopped at the first bad line (--strict): read 3 lines, wrote 2 readings, rejected 1 line (1 bad, 0 not sendable), dropped 0\n"
        )
    );
}

#[test]
fn forwarding_keeps_the_warning_for_an_implausible_timestamp() {
    let out = telemit(&["pipe"], b"m v=1.0 1700000000\nm v=2.0 1700000001\n");
    assert_eq!(out.stdout, b"m v=1.0 1700000000\nm v=2.0 1700000001\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "telemit: line 1: timestamp 1700000000 read as nanoseconds is more than 20 years from now; looks like seconds: use --input-precision s (said once)\n"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lines_that_change_on_the_way_are_not_forwarded_as_they_are() {
    let input = b"m v=1.0\nm v=2.0 1700000000\n";
    let tagged = telemit(&["pipe", "-t", "dc=x", "--input-precision", "s"], input);
    assert_eq!(
        tagged.stdout,
        b"m,dc=x v=1.0\nm,dc=x v=2.0 1700000000000000000\n"
    );
    let numbered = telemit(
        &[
            "pipe",
            "--seq",
            "--precision",
            "s",
            "--input-precision",
            "s",
        ],
        input,
    );
    assert_eq!(
        numbered.stdout,
        b"m v=1.0,seq=0u\nm v=2.0,seq=1u 1700000000\n"
    );
    let same_unit = telemit(
        &["pipe", "--precision", "s", "--input-precision", "s"],
        input,
    );
    assert_eq!(same_unit.stdout, input);
}

#[test]
fn encoded_readings_are_counted_and_held_to_the_datagram_limit() {
    let memory = MemoryTransport::datagrams(64);
    let sender = Sender::memory_builder(&memory, Encoder::new(Format::Influx))
        .start()
        .unwrap();
    let long = format!("measurement value=3.0,padding=\"{}\"\n", "x".repeat(40));
    sender.send_encoded(b"m v=1.0\n").unwrap();
    sender.send_encoded(b"m v=2.0\n").unwrap();
    assert_eq!(
        sender.send_encoded(long.as_bytes()),
        Err(SendError::Oversize {
            len: long.len(),
            max: 64,
            transport: "a datagram"
        })
    );
    let stats = sender.shutdown();
    assert_eq!(
        (stats.readings_in, stats.written),
        (3, 2),
        "{}",
        stats.summary()
    );
    assert_eq!(stats.dropped(telemit::DropReason::Oversize), 1);
    assert_eq!(memory.datagram_payloads(), [b"m v=1.0\nm v=2.0\n".to_vec()]);
}
