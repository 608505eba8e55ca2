//! Hostile request targets, methods and headers in bulk against the real binary: none may get a
//! 5xx (a server error is what monitors page someone for), and nothing outside the site
//! directory may ever be served.

mod support;

use std::io::Write;

use support::*;

/// What a target may get: `Missing` ones name no file of the site, so 404 (or hyper's 400 for
/// a target it cannot parse, 431 for a head too large); `Any` ones may also name a real file.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Missing,
    Any,
}
use Expect::*;

fn long_segments() -> Vec<(String, Expect)> {
    let mut out = Vec::new();
    for n in [255, 256, 300, 1024, 4096, 16 * 1024] {
        let a = "a".repeat(n);
        out.push((format!("/{a}"), Missing));
        out.push((format!("/{a}/x.js"), Missing));
        out.push((format!("/assets/{a}.js"), Missing));
        out.push((format!("/{HASH_DIR}/{a}"), Missing));
        out.push((format!("/{HASH_DIR}/app.js/{a}"), Missing));
        // Decodes to a long name: the encoded form is three times as long.
        if n <= 4096 {
            out.push((format!("/{}", "%61".repeat(n)), Missing));
        }
    }
    out
}

fn many_segments() -> Vec<(String, Expect)> {
    vec![
        ("/a".repeat(4000), Missing),
        (format!("/{}", "a/".repeat(5000)), Missing),
        (format!("{}/secret.txt", "/..".repeat(2000)), Missing),
        (format!("{}/etc/passwd", "/%2e%2e".repeat(1000)), Missing),
        (format!("{}index.html", "/.".repeat(3000) + "/"), Any),
        ("/".repeat(10_000), Any),
        (format!("{}{HASH_DIR}/app.js", "//".repeat(2000)), Any),
    ]
}

/// Every byte percent-encoded, alone and where it could change a path's meaning.
fn every_encoded_byte() -> Vec<(String, Expect)> {
    let mut out = Vec::new();
    for b in 0..=255u8 {
        for (target, expect) in [
            (format!("/%{b:02X}"), Missing),
            (format!("/%{b:02x}%{b:02x}/secret.txt"), Missing),
            (format!("/..%{b:02X}secret.txt"), Missing),
            (
                format!("/assets/%{b:02X}/..%{b:02X}..%{b:02X}Cargo.toml"),
                Missing,
            ),
            // A byte after a real file's name: only a trailing `/` or nothing could still be it.
            (format!("/{HASH_DIR}/app.js%{b:02X}"), Missing),
        ] {
            out.push((target, expect));
        }
    }
    out
}

fn invalid_utf8() -> Vec<(String, Expect)> {
    [
        "/%C3%28",
        "/%FF%FE",
        "/%C0%AE%C0%AE/secret.txt",
        "/%C0%AF..%C0%AFsecret.txt",
        "/%E0%80%AF",
        "/%ED%A0%80",
        "/%F4%90%80%80",
        "/%F8%88%80%80%80",
        "/index.html%80",
        "/assets/%C0%AE%C0%AE/%C0%AE%C0%AE/Cargo.toml",
    ]
    .iter()
    .map(|t| (t.to_string(), Missing))
    .collect()
}

fn dots_and_backslashes() -> Vec<(String, Expect)> {
    [
        "/..",
        "/../",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/assets/./../../secret.txt",
        "/assets/0123456789abcdef/../../../Cargo.toml",
        "/...",
        "/..../secret.txt",
        "/..;/secret.txt",
        "/..\\secret.txt",
        "/assets\\..\\..\\secret.txt",
        "/%5C..%5C..%5Csecret.txt",
        "/%5c%5c..%5csecret.txt",
        "/..%255csecret.txt",
        "/%252e%252e/secret.txt",
        "/%2fetc%2fpasswd",
        "/~root/.bashrc",
        "/proc/self/environ",
        "/%00",
        "/index.html%00.js",
        "/assets/0123456789abcdef/app.js%00",
    ]
    .iter()
    .map(|t| (t.to_string(), Missing))
    .collect()
}

fn windows_device_names() -> Vec<(String, Expect)> {
    let mut names: Vec<String> = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for i in 0..=9 {
        names.push(format!("COM{i}"));
        names.push(format!("LPT{i}"));
    }
    let mut out = Vec::new();
    for name in names {
        let lower = name.to_lowercase();
        for target in [
            format!("/{name}"),
            format!("/{lower}.js"),
            format!("/assets/{name}/app.js"),
            format!("/{HASH_DIR}/{lower}.wasm"),
            format!("/c:/{name}"),
            format!("/{name}:stream"),
        ] {
            out.push((target, Missing));
        }
    }
    out
}

/// Queries never name a file: the path decides. Up to the app's head limit, then its 431.
fn long_queries() -> Vec<(String, Expect)> {
    let mut out = Vec::new();
    for n in [1000, 10_000, 30_000, 60_000] {
        let q = "q".repeat(n);
        out.push((format!("/?{q}"), Any));
        out.push((format!("/api/model?{q}"), Any));
        out.push((format!("/{HASH_DIR}/app.js?v={q}"), Any));
        out.push((format!("/missing?{q}"), Missing));
    }
    for q in [
        "../../secret.txt",
        "%00",
        "%FF%FE",
        "%%%",
        "a=1&a=2&=&&",
        "/../Cargo.toml",
    ] {
        out.push((format!("/?{q}"), Any));
        out.push((format!("/healthz?{q}"), Any));
        out.push((format!("/secret.txt?{q}"), Missing));
    }
    out
}

/// Forms of the request target other than a plain path.
fn other_forms() -> Vec<(String, Expect)> {
    vec![
        ("*".into(), Any),
        ("http://localhost/../secret.txt".into(), Missing),
        ("http://evil.example/%2e%2e/Cargo.toml".into(), Missing),
        ("http://localhost".into(), Any),
        ("localhost:80".into(), Any),
        ("secret.txt".into(), Any),
    ]
}

/// Whatever came back: the status if there was a response. A connection closed without one
/// is no 5xx either (hyper closes on some malformed heads).
fn send(server: &Server, request: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut stream = server.connect();
    stream.write_all(request).unwrap();
    let (bytes, _) = read_until_closed(&mut stream);
    if bytes.is_empty() {
        return None;
    }
    let (head, mut body) = read_head(&mut &bytes[..]).expect("a response head");
    body.truncate(body.len().min(1 << 20));
    Some((head.status, body))
}

fn check(what: &str, response: Option<(u16, Vec<u8>)>, expect: Expect) {
    let Some((status, body)) = response else {
        return;
    };
    assert!(status < 500, "{what}: status {status}");
    assert!(
        !String::from_utf8_lossy(&body).contains(SECRET),
        "{what}: served a file outside the site"
    );
    if expect == Missing {
        assert!(
            matches!(status, 400 | 404 | 431),
            "{what}: status {status} for a path that names no file of the site"
        );
    }
}

fn short(target: &[u8]) -> String {
    let text = String::from_utf8_lossy(target);
    if text.len() > 80 {
        format!("{}... ({} bytes)", &text[..80], target.len())
    } else {
        text.into_owned()
    }
}

#[test]
fn hostile_targets_get_no_5xx_and_nothing_outside_the_site() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let cases: Vec<(String, Expect)> = [
        long_segments(),
        many_segments(),
        every_encoded_byte(),
        invalid_utf8(),
        dots_and_backslashes(),
        windows_device_names(),
        long_queries(),
        other_forms(),
    ]
    .concat();
    assert!(cases.len() > 1500, "{} cases", cases.len());
    for (target, expect) in &cases {
        for method in ["GET", "HEAD"] {
            let request = format!(
                "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            );
            check(
                &format!("{method} {}", short(target.as_bytes())),
                send(&server, request.as_bytes()),
                *expect,
            );
        }
    }

    // Bytes no client should send in a request target: hyper refuses them before routing.
    for target in [
        &b"/\xff\xfe"[..],
        b"/a\x00b",
        b"/a\x7fb",
        b"/\xc0\xae\xc0\xae/secret.txt",
        b"/a\tb",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        check(&short(target), send(&server, &request), Missing);
    }

    // The server kept going, and logged no failure of its own.
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get(&format!("/{HASH_DIR}/app.js")).text(), APP_JS);
    let stderr = server.stderr();
    assert!(!stderr.contains("serving"), "{stderr}");
    let lines = server.stdout_lines();
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains(" status=5")).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn odd_methods_and_headers_get_no_5xx() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let long = "a".repeat(300);
    let paths = [
        "/".to_string(),
        format!("/{HASH_DIR}/app.js"),
        format!("/{HASH_DIR}/webinfer_bg.wasm"),
        "/api/model".into(),
        format!("/{long}"),
        "/%FF".into(),
    ];
    for path in &paths {
        for method in [
            "OPTIONS", "TRACE", "PATCH", "DELETE", "PROPFIND", "FOO", "get", "CONNECT",
        ] {
            let request =
                format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let what = format!("{method} {}", short(path.as_bytes()));
            let response = send(&server, request.as_bytes());
            check(&what, response.clone(), Any);
            if let Some((status, _)) = response {
                assert!(matches!(status, 400 | 405), "{what}: {status}");
            }
        }
        for (name, value) in [
            ("Range", "bytes=999999999-"),
            ("Range", "bytes=-0"),
            ("Range", "bytes=5-1"),
            ("Range", "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7"),
            ("Range", "bytes=-18446744073709551616"),
            ("Range", "lines=1-2"),
            ("Range", "bytes=a-b"),
            ("If-Range", "\"nope\""),
            ("If-Range", "Tue, 99 Foo 9999 99:99:99 GMT"),
            ("If-None-Match", "\"\\\""),
            ("If-None-Match", &"\"x\",".repeat(2000)),
            ("If-Modified-Since", "yesterday"),
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("Accept-Encoding", "br;q=abc, gzip;q=-1, *;q=2"),
            ("Accept-Encoding", &"identity;q=0, ".repeat(500)),
            ("Accept-Encoding", "*;q=0"),
            ("Host", &long),
            ("Host", "[::1"),
            ("Content-Length", "0"),
            ("Expect", "100-continue"),
            ("Connection", "upgrade"),
            ("Upgrade", "websocket"),
        ] {
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\n{name}: {value}\r\nConnection: close\r\n\r\n"
            );
            let what = format!(
                "GET {} with {name}: {}",
                short(path.as_bytes()),
                short(value.as_bytes())
            );
            check(&what, send(&server, request.as_bytes()), Any);
        }
    }
    assert_eq!(server.get("/healthz").status, 200);
    assert!(!server.stderr().contains("serving"), "{}", server.stderr());
}

/// The site is served from the index built at start-up: a request for anything else never
/// reaches the file system, so a file that appears later is not served.
#[test]
fn only_files_indexed_at_startup_are_served() {
    let fx = Fixture::new();
    fx.write_site_file("docs/index.html", b"<!doctype html><title>docs</title>");
    let server = Server::start(&fx);
    fx.write_site_file("late.js", b"export const late = true;\n");
    fx.write_site_file(
        &format!("{HASH_DIR}/late.js"),
        b"export const late = true;\n",
    );
    assert_eq!(server.get("/late.js").status, 404);
    assert_eq!(server.get(&format!("/{HASH_DIR}/late.js")).status, 404);

    // A directory with an index is still found, with or without its slash.
    assert_eq!(server.get("/docs/").status, 200);
    let redirect = server.get("/docs");
    assert!(matches!(redirect.status, 301 | 307 | 308), "{redirect:?}");
    assert_eq!(redirect.header("location"), Some("/docs/"));
    // One without an index is not a page.
    assert_eq!(server.get("/assets/").status, 404);
    assert_eq!(server.get("/assets").status, 404);
}
