//! Loopback servers the tests start themselves. Nothing here talks beyond 127.0.0.1.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use ward_core::ids::ProbeId;
use ward_core::inventory::CheckKind;
use ward_probe::ProbeSpec;

pub fn spec(kind: CheckKind, target: impl Into<String>, timeout_ms: u64) -> ProbeSpec {
    let mut spec = ProbeSpec::new(ProbeId(0), kind, target);
    spec.timeout = Duration::from_millis(timeout_ms);
    spec
}

/// A TCP listener that accepts and closes every connection; lives while the runtime does.
pub async fn tcp_accepting() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    address
}

/// A loopback port nobody listens on (bound, then released).
pub async fn tcp_closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A minimal HTTP/1.1 server answering every request with `status` and `body`.
pub async fn http_server(status: u16, body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    address
}

/// Accepts connections and never answers (the seed 003 "missing HTTP timeout" server).
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    address
}

/// A tiny authoritative DNS responder over UDP: every A question gets one record
/// with `answer`; any other type gets an empty NOERROR answer. Hand-built packets
/// (RFC 1035 §4), no DNS library on the server side so the client is tested for real.
pub async fn dns_server(answer: [u8; 4]) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok((length, peer)) = socket.recv_from(&mut buffer).await {
            if let Some(reply) = dns_reply(&buffer[..length], answer) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    address
}

fn dns_reply(query: &[u8], answer: [u8; 4]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then QTYPE and QCLASS.
    let mut end = 12;
    loop {
        let length = *query.get(end)? as usize;
        end += 1 + length;
        if length == 0 {
            break;
        }
    }
    let question = query.get(12..end + 4)?;
    let qtype = u16::from_be_bytes([query[end], query[end + 1]]);
    let answers: u16 = if qtype == 1 { 1 } else { 0 };
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[0..2]); // same id
    reply.extend_from_slice(&[0x84, 0x00]); // QR, AA, opcode 0, RCODE 0 (recursion not offered)
    reply.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    reply.extend_from_slice(&answers.to_be_bytes()); // ANCOUNT
    reply.extend_from_slice(&[0, 0, 0, 0]); // NSCOUNT, ARCOUNT (EDNS OPT dropped)
    reply.extend_from_slice(question);
    if answers == 1 {
        reply.extend_from_slice(&[0xc0, 0x0c]); // name: pointer to the question's name
        reply.extend_from_slice(&1u16.to_be_bytes()); // TYPE A
        reply.extend_from_slice(&1u16.to_be_bytes()); // CLASS IN
        reply.extend_from_slice(&30u32.to_be_bytes()); // TTL
        reply.extend_from_slice(&4u16.to_be_bytes()); // RDLENGTH
        reply.extend_from_slice(&answer);
    }
    Some(reply)
}

/// A UDP socket that reads queries and never answers.
pub async fn dns_silent() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while socket.recv_from(&mut buffer).await.is_ok() {}
    });
    address
}
