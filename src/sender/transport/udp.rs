//! UDP datagrams (`service_address = "udp://…"`).

use std::io;
use std::net::UdpSocket;
use std::time::Duration;

use socket2::{Protocol, Type};

use super::unixgram::whole;
use super::{
    Connect, DEFAULT_UDP_DATAGRAM, DatagramLimits, MAX_UDP_PAYLOAD, Shape, SocketOptions,
    Transport, new_socket,
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
        Shape {
            datagram: Some(DatagramLimits {
                default: DEFAULT_UDP_DATAGRAM,
                max: MAX_UDP_PAYLOAD,
            }),
            confirms_delivery: false,
            compressible: false,
            ..Shape::stream("udp")
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let (address, socket) = new_socket(&self.host, self.port, Type::DGRAM, Protocol::UDP)?;
        if let Some(size) = self.options.send_buffer {
            socket.set_send_buffer_size(size)?;
        }
        socket.connect(&address)?;
        socket.set_write_timeout(Some(self.options.write_timeout))?;
        Ok(Box::new(Udp(socket.into())))
    }
}

struct Udp(UdpSocket);

impl Transport for Udp {
    fn send_datagram(&mut self, payload: &[u8]) -> io::Result<()> {
        let sent = self.0.send(payload)?;
        whole(sent, payload.len())
    }

    fn close(self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }
}
