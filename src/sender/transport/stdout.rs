//! Standard output: how Telegraf's `inputs.execd` reads a program.

use std::io::{self, Write};
use std::time::Duration;

use super::{Connect, Shape, Transport};

pub(super) struct Connector;

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape {
            max_line: usize::MAX,
            compressible: false,
            reconnectable: false,
            ..Shape::stream("stdout")
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        Ok(Box::new(Stdout(io::stdout())))
    }
}

struct Stdout(io::Stdout);

impl Transport for Stdout {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.0.write(bytes)?;
        self.0.flush()?;
        Ok(n)
    }

    fn close(mut self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        self.0.flush()
    }
}
