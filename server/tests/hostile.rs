//! End-to-end tests with clients that are slow, silent, oversized or cut short by a shutdown:
//! the server must drop or refuse them with the right status and keep serving everyone else.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// WEBINFER_HEADER_TIMEOUT_MS for the timeout tests (the default is 10 s).
const TIMEOUT_MS: u64 = 1000;

fn short_timeout(fx: &Fixture) -> Vec<(&'static str, String)> {
    let mut env = fx.env();
    env.push(("WEBINFER_HEADER_TIMEOUT_MS", TIMEOUT_MS.to_string()));
    env
}

/// Waits for the server to close `stream`; returns when (since `start`) and what it sent.
fn closed_after(name: &str, stream: &mut TcpStream, start: Instant) -> (Duration, Vec<u8>) {
    let (bytes, end) = read_until_closed(stream);
    if let Err(e) = &end {
        assert!(
            !is_timeout(e),
            "{name}: still open after {:?}",
            start.elapsed()
        );
    }
    (start.elapsed(), bytes)
}

fn sigterm(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn slow_silent_and_idle_clients_are_disconnected() {
    let fx = Fixture::new();
    let server = Server::start_with(&short_timeout(&fx));
    let timeout = Duration::from_millis(TIMEOUT_MS);
    let start = Instant::now();

    // Connects and never sends a byte.
    let mut silent = server.connect();

    // Slowloris: a byte of header every 50 ms, never finishing the head.
    let mut slow = server.connect();
    let mut slow_writer = slow.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        let _ = slow_writer.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n");
        for &byte in b"X-Slow: 1\r\n".iter().cycle().take(200) {
            if slow_writer.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });

    // Half a head, then nothing.
    let mut stalled = server.connect();
    stalled.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();

    // A keep-alive connection that goes quiet after its response.
    let mut idle = server.connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (head, _) = read_head(&mut idle).unwrap();
    assert_eq!(head.status, 200);
    let idle_since = Instant::now();

    // Meanwhile everyone else is served, including a head sent in two parts.
    assert_eq!(server.get("/healthz").status, 200);
    let mut split = server.connect();
    split
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: lo")
        .unwrap();
    thread::sleep(timeout / 3);
    split
        .write_all(b"calhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_head(&mut split).unwrap().0.status, 200);

    for (name, stream) in [
        ("silent", &mut silent),
        ("slowloris", &mut slow),
        ("stalled", &mut stalled),
    ] {
        let (after, bytes) = closed_after(name, stream, start);
        // No answer at all: there is no request to answer.
        assert!(
            bytes.is_empty(),
            "{name}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(
            after >= timeout - Duration::from_millis(50) && after < timeout * 4,
            "{name}: closed after {after:?}"
        );
    }
    trickle.join().unwrap();

    let (after, rest) = closed_after("idle", &mut idle, idle_since);
    assert!(after < timeout * 4, "idle: closed after {after:?}");
    assert!(
        !String::from_utf8_lossy(&rest).contains("HTTP/1.1"),
        "{rest:?}"
    );

    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn a_slow_head_within_the_default_timeout_is_served() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let mut stream = server.connect();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    thread::sleep(Duration::from_millis(1500));
    stream
        .write_all(b"Host: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_head(&mut stream).unwrap().0.status, 200);
}

#[test]
fn huge_request_heads_are_refused() {
    let fx = Fixture::new();
    let server = Server::start(&fx);

    // Past the app's limit but within hyper's buffer: the app's own 431.
    let res = server.request("GET", "/", &[("X-Big", &"x".repeat(40 * 1024))]);
    assert_eq!(res.status, 431);
    assert!(res.header("content-security-policy").is_some(), "{res:?}");

    // Too many header lines: refused by hyper.
    let many: Vec<(String, String)> = (0..200).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(server.request("GET", "/", &many).status, 431);

    // Past hyper's buffer: refused once the buffer is full instead of being buffered whole.
    // Closing a socket with unread input resets it, so the client may see the 431 or only the
    // reset; never a 200 and never a hang.
    for size in [100 * 1024, 1024 * 1024, 8 * 1024 * 1024] {
        let mut stream = server.connect();
        let mut writer = stream.try_clone().unwrap();
        let request = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
            "x".repeat(size)
        );
        let sender = thread::spawn(move || {
            let _ = writer.write_all(request.as_bytes());
        });
        let (bytes, end) = read_until_closed(&mut stream);
        if let Err(e) = &end {
            assert!(!is_timeout(e), "{size}: connection kept open");
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            bytes.is_empty() || text.starts_with("HTTP/1.1 431 "),
            "{size}: {text}"
        );
        sender.join().unwrap();
    }

    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn unwanted_bodies_are_refused_without_being_read() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let heads = [
        "POST /api/model HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n",
        // The 405 must come instead of a `100 Continue`.
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\nabc",
    ];
    for request in heads {
        let mut stream = server.connect();
        let start = Instant::now();
        stream.write_all(request.as_bytes()).unwrap();
        let (head, _) = read_head(&mut stream).unwrap();
        assert_eq!(head.status, 405, "{request}");
        assert_eq!(head.header("allow"), Some("GET, HEAD"));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "405 took {:?}",
            start.elapsed()
        );
        // Nor does the server wait for the body before ending the connection.
        let (_, end) = read_until_closed(&mut stream);
        if let Err(e) = &end {
            assert!(!is_timeout(e), "connection kept open waiting for the body");
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn sigterm_drains_a_download_in_flight() {
    const SIZE: usize = 32 * 1024 * 1024;
    let fx = Fixture::new();
    let big: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    fx.write_site_file("big.bin", &big);
    let mut server = Server::start(&fx);

    // Keep-alive on purpose: the server must end the connection itself after the response.
    let mut download = server.connect();
    download
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (head, mut body) = read_head(&mut download).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
    // Let the socket buffers fill; most of the file then waits on this client.
    thread::sleep(Duration::from_millis(200));

    sigterm(&server);
    assert!(
        eventually(Duration::from_secs(3), || matches!(
            TcpStream::connect(server.addr),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        )),
        "still accepting connections after SIGTERM"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a download in flight"
    );

    // Read the rest slowly: small reads with pauses.
    let mut buf = [0u8; 8 * 1024];
    let mut reads = 0usize;
    loop {
        let n = download.read(&mut buf).expect("download cut off");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        reads += 1;
        if reads % 64 == 0 {
            thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(body.len(), SIZE);
    assert!(body == big, "download corrupted");

    let exit = wait_for_exit(&mut server.child, Duration::from_secs(5))
        .expect("exit within 5 s of the last response");
    assert_eq!(exit.code(), Some(0));
    assert!(
        server
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("method=GET path=/big.bin status=200 ")),
        "{:?}",
        server.stdout_lines()
    );
}
