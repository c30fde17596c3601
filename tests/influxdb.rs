//! Encoded readings, escape-heavy ones included, go into a real InfluxDB 1.x and come back
//! identical: InfluxDB reads line protocol with the same escaping rules as Telegraf.

mod support;

use support::{Server, assert_influx_holds, escape_heavy_readings, http};
use telemit::{Encoder, Format};

#[test]
fn influxdb_stores_exactly_what_we_encode() {
    let Some(server) = Server::influxdb() else {
        return;
    };
    let (status, body) = http(
        server.http_port,
        "POST",
        "/query?q=CREATE%20DATABASE%20t",
        b"",
    );
    assert_eq!(status, 200, "{body}");

    let readings = escape_heavy_readings(300);
    let encoder = Encoder::new(Format::Influx);
    let mut payload = Vec::new();
    for reading in &readings {
        encoder.encode(reading, &mut payload).unwrap();
    }
    let (status, body) = http(
        server.http_port,
        "POST",
        "/write?db=t&precision=ns",
        &payload,
    );
    assert_eq!(status, 204, "InfluxDB refused our lines: {body}");

    let answer = server.influx_query("t", "SELECT * FROM /.*/");
    assert_influx_holds(&answer, &readings);
}
