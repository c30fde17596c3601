//! A TCP connection (`service_address = "tcp://…"`); TLS runs over the same connection.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::Duration;

use socket2::{Protocol, Type};

use super::{
    Connect, Shape, SocketOptions, Transport, check_socket_open, close_stream, new_socket, outq,
};

pub(super) struct Connector {
    host: String,
    port: u16,
    options: SocketOptions,
}

impl Connector {
    pub fn new(host: &str, port: u16, options: &SocketOptions) -> Connector {
        Connector {
            host: host.to_owned(),
            port,
            options: options.clone(),
        }
    }
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape::stream("tcp")
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        Ok(Box::new(Tcp(connect(
            &self.host,
            self.port,
            &self.options,
        )?)))
    }
}

/// A TCP connection with keepalive, no Nagle delay, and the sender's timeouts.
pub(super) fn connect(host: &str, port: u16, options: &SocketOptions) -> io::Result<TcpStream> {
    let (address, socket) = new_socket(host, port, Type::STREAM, Protocol::TCP)?;
    socket.set_keepalive(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(size) = options.send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.connect_timeout(&address, options.connect_timeout)?;
    socket.set_write_timeout(Some(options.write_timeout))?;
    Ok(socket.into())
}

struct Tcp(TcpStream);

impl Transport for Tcp {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }

    fn unsent_bytes(&mut self) -> Option<usize> {
        outq::unsent_bytes(&self.0)
    }

    fn check_open(&mut self) -> io::Result<()> {
        check_socket_open(&self.0)
    }

    fn close(mut self: Box<Self>, timeout: Duration) -> io::Result<()> {
        close_stream(&mut self.0, timeout)
    }
}
