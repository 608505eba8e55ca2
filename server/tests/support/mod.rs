//! Test support: a throwaway site + manifest, the real binary started on a free port, and a
//! minimal HTTP/1.1 client over std::net::TcpStream (raw bytes, so requests the usual clients
//! would normalize, like `/../x`, reach the server as written).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_webinfer-server");
pub const CDN: &str = "http://127.0.0.1:9/cdn";
pub const HASH_DIR: &str = "assets/0123456789abcdef";
pub const MODEL_FILE: &str = "tiny.0123456789abcdef.onnx";
pub const INDEX: &str = "<!doctype html><title>webinfer</title><script type=module src=/assets/0123456789abcdef/app.js></script>";
pub const APP_JS: &str = "export const representation = 'identity';\n";
pub const APP_JS_BR: &[u8] = b"\x1b\x2a\x00\xf8BROTLI-REPRESENTATION";
pub const APP_JS_GZ: &[u8] = b"\x1f\x8b\x08\x00GZIP-REPRESENTATION";
pub const WASM: &[u8] = b"\0asm\x01\0\0\0WASM-BODY-0123456789";
/// Placed next to the site dir, where a traversal would land.
pub const SECRET: &str = "TOP-SECRET-must-never-be-served";

const VARS: [&str; 5] = [
    "PORT",
    "WEBINFER_CDN_URL",
    "WEBINFER_SITE_DIR",
    "WEBINFER_MANIFEST",
    "WEBINFER_HEADER_TIMEOUT_MS",
];

/// A unique temp dir with a site, a manifest and decoys outside the site; removed on drop.
pub struct Fixture {
    pub root: PathBuf,
    pub site: PathBuf,
    pub manifest: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "webinfer-server-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let site = root.join("site");
        let write = |rel: &str, bytes: &[u8]| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        write("site/index.html", INDEX.as_bytes());
        write("site/sw.js", b"self.addEventListener('fetch', () => {});\n");
        write("site/manifest.webmanifest", b"{\"name\":\"webinfer\"}");
        write(&format!("site/{HASH_DIR}/app.js"), APP_JS.as_bytes());
        write(&format!("site/{HASH_DIR}/app.js.br"), APP_JS_BR);
        write(&format!("site/{HASH_DIR}/app.js.gz"), APP_JS_GZ);
        write(&format!("site/{HASH_DIR}/webinfer_bg.wasm"), WASM);
        write("secret.txt", SECRET.as_bytes());
        write("Cargo.toml", SECRET.as_bytes());
        let fixture = Fixture {
            manifest: root.join("model.manifest.json"),
            root,
            site,
        };
        fixture.write_manifest(&manifest_json(MODEL_FILE, &"ab".repeat(32)));
        fixture
    }

    /// Adds (or replaces) a file in the site; do it before starting the server, which indexes
    /// the site once.
    pub fn write_site_file(&self, rel: &str, bytes: &[u8]) {
        let path = self.site.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn write_manifest(&self, text: &str) {
        std::fs::write(&self.manifest, text).unwrap();
    }

    /// The environment a correct deploy has.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PORT", "0".into()),
            ("WEBINFER_CDN_URL", CDN.into()),
            ("WEBINFER_SITE_DIR", self.site.display().to_string()),
            ("WEBINFER_MANIFEST", self.manifest.display().to_string()),
        ]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn manifest_json(url: &str, sha256: &str) -> String {
    format!(
        r#"{{"schema":"webinfer.manifest/1","name":"tiny","model":{{"url":"{url}","sha256":"{sha256}","bytes":123,"format":"onnx"}},"inputs":[{{"name":"input","type":"float32","dims":[1,3]}}],"outputs":[{{"name":"logits","type":"float32","dims":[1,2]}}],"labels":["cat","dog"]}}"#
    )
}

fn command(env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for var in VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the binary with a configuration that must be refused; returns (exit status, stderr).
pub fn run_to_exit(env: &[(&str, String)]) -> (ExitStatus, String) {
    let mut child = command(env).spawn().expect("spawn webinfer-server");
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("webinfer-server kept running with a bad configuration: {env:?}");
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

pub fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The running binary; killed on drop if a test did not stop it.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(fixture: &Fixture) -> Server {
        Server::start_with(&fixture.env())
    }

    pub fn start_with(env: &[(&str, String)]) -> Server {
        let mut child = command(env).spawn().expect("spawn webinfer-server");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));

        let (first_tx, first_rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        let lines = stdout.clone();
        thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                let _ = first_tx.send(line.clone());
                lines.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let err_text = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_text
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let first = match first_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "webinfer-server printed no listening line; stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let port: u16 = first
            .strip_prefix("webinfer-server listening on http://0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first stdout line: {first:?}"));
        assert_ne!(port, 0);
        Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stdout,
            stderr,
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[])
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "POST" || method == "PUT" {
            head.push_str("Content-Length: 0\r\n");
        }
        head.push_str("\r\n");
        self.raw(head.as_bytes())
    }

    /// Sends `request` as is and reads the response until the server closes the connection.
    pub fn raw(&self, request: &[u8]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("read response");
        Response::parse(&bytes)
    }

    /// A connection with a read timeout, for tests that drive the protocol by hand.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(bytes: &[u8]) -> Response {
        let end = find(bytes, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(bytes)));
        let mut res = Response::parse_head(&bytes[..end]);
        res.body = bytes[end + 4..].to_vec();
        let chunked = res
            .headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        if chunked {
            res.body = dechunk(&res.body);
        }
        res
    }

    /// The status line and headers (without the final CRLF CRLF); the body is left empty.
    fn parse_head(head: &[u8]) -> Response {
        let head = std::str::from_utf8(head).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect(status_line);
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').expect(l);
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Response {
            status,
            headers,
            body: Vec::new(),
        }
    }

    /// The value of a header that must appear at most once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        let mut values = self
            .headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(
            values.next().is_none(),
            "header {name} appears more than once: {:?}",
            self.headers
        );
        first
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads up to the end of a response head (in small reads); returns the head (status, headers,
/// empty body) and any body bytes read past it.
pub fn read_head(stream: &mut impl Read) -> std::io::Result<(Response, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let rest = bytes.split_off(end + 4);
            return Ok((Response::parse_head(&bytes[..end]), rest));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {:?}", String::from_utf8_lossy(&bytes)),
            ));
        }
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// Reads until the peer closes; returns what was read and how it ended (Ok(()) for a clean
/// EOF, the error for a reset or a timeout).
pub fn read_until_closed(stream: &mut impl Read) -> (Vec<u8>, std::io::Result<()>) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (bytes, Ok(())),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) => return (bytes, Err(e)),
        }
    }
}

pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").expect("chunk size line");
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Waits until `cond` holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
