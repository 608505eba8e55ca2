//! End-to-end tests of the real binary over raw HTTP/1.1.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

const APP: &str = "/assets/0123456789abcdef/app.js";
const WASM_PATH: &str = "/assets/0123456789abcdef/webinfer_bg.wasm";

fn has_vary_accept_encoding(res: &Response) -> bool {
    res.headers
        .iter()
        .filter(|(k, _)| k == "vary")
        .flat_map(|(_, v)| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
}

#[test]
fn content_types() {
    let fx = Fixture::new();
    let server = Server::start(&fx);

    let wasm = server.get(WASM_PATH);
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, WASM);

    let js = server.get(APP);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        server.get("/sw.js").header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        server.get("/").header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        server.get("/manifest.webmanifest").header("content-type"),
        Some("application/manifest+json")
    );
}

#[test]
fn precompressed_variants_follow_accept_encoding() {
    let fx = Fixture::new();
    let server = Server::start(&fx);

    let plain = server.get(APP);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.text(), APP_JS);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(has_vary_accept_encoding(&plain), "{:?}", plain.headers);

    let br = server.request("GET", APP, &[("Accept-Encoding", "br")]);
    assert_eq!(br.status, 200);
    assert_eq!(br.body, APP_JS_BR);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(
        br.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(has_vary_accept_encoding(&br));

    let gz = server.request("GET", APP, &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.body, APP_JS_GZ);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));

    let browser = server.request(
        "GET",
        APP,
        &[("Accept-Encoding", "gzip, deflate, br, zstd")],
    );
    assert_eq!(browser.header("content-encoding"), Some("br"));
    assert_eq!(browser.body, APP_JS_BR);

    // No variant on disk: identity, whatever the client accepts.
    let wasm = server.request("GET", WASM_PATH, &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(wasm.header("content-encoding"), None);
    assert_eq!(wasm.body, WASM);

    // Each representation has its own ETag.
    let tags = [plain.header("etag"), br.header("etag"), gz.header("etag")];
    assert!(tags.iter().all(Option::is_some), "{tags:?}");
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
}

/// The site stores its wasm builds as brotli alone (build.sh): a client without brotli gets gzip
/// made from it, one that takes neither the file itself, each with its own ETag. A file stored
/// as gzip alone reaches every client too.
#[test]
fn compressed_only_files_reach_every_client() {
    use std::io::{Read, Write};
    let fx = Fixture::new();
    let body: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let raw = fx.root.join("raw.bin");
    std::fs::write(&raw, &body).unwrap();
    let br_file = fx.root.join("raw.bin.br");
    let made = Command::new("brotli")
        .arg("-q")
        .arg("5")
        .arg("-f")
        .arg("-o")
        .arg(&br_file)
        .arg(&raw)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "the brotli command (tools/setup.sh installs it)"
    );
    let br = std::fs::read(&br_file).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let path = format!("/{HASH_DIR}/pkg/brotli_only_bg.wasm");
    let gz_only = format!("/{HASH_DIR}/pkg/gzip_only_bg.wasm");
    fx.write_site_file(&format!("{}.br", &path[1..]), &br);
    fx.write_site_file(&format!("{}.gz", &gz_only[1..]), &gz);
    let server = Server::start(&fx);
    let gunzip = |bytes: &[u8]| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    };

    let browser = server.request(
        "GET",
        &path,
        &[("Accept-Encoding", "gzip, deflate, br, zstd")],
    );
    assert_eq!(
        (browser.status, browser.header("content-encoding")),
        (200, Some("br"))
    );
    assert_eq!(browser.body, br);

    let mut gzip_tag = None;
    for accept in ["gzip, deflate", "x-gzip", "*", "deflate, gzip;q=0.5"] {
        let gzip = server.request("GET", &path, &[("Accept-Encoding", accept)]);
        assert_eq!(
            (gzip.status, gzip.header("content-encoding")),
            (200, Some("gzip")),
            "{accept}"
        );
        assert!(
            gunzip(&gzip.body) == body,
            "{accept}: gzip of the same file"
        );
        assert_eq!(
            gzip.header("content-length"),
            Some(gzip.body.len().to_string().as_str())
        );
        assert_eq!(gzip.header("content-type"), Some("application/wasm"));
        assert!(has_vary_accept_encoding(&gzip), "{:?}", gzip.headers);
        let tag = gzip.header("etag").expect("an ETag").to_string();
        assert!(
            gzip_tag.get_or_insert(tag.clone()) == &tag,
            "the same gzip each time"
        );
    }
    let gzip_tag = gzip_tag.unwrap();

    for accept in [
        None,
        Some("identity"),
        Some("deflate"),
        Some("gzip;q=0, zstd"),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        for file in [&path, &gz_only] {
            let plain = server.request("GET", file, &headers);
            assert_eq!(
                (plain.status, plain.header("content-encoding")),
                (200, None),
                "{file} {accept:?}"
            );
            assert!(
                plain.body == body,
                "{file} {accept:?}: the file decompressed"
            );
            assert_eq!(plain.header("content-type"), Some("application/wasm"));
            assert_eq!(
                plain.header("content-length"),
                Some(body.len().to_string().as_str())
            );
            assert_eq!(
                plain.header("cache-control"),
                Some("public, max-age=31536000, immutable")
            );
            assert!(has_vary_accept_encoding(&plain), "{:?}", plain.headers);
        }
    }
    let stored_gz = server.request("GET", &gz_only, &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        (stored_gz.header("content-encoding"), &stored_gz.body),
        (Some("gzip"), &gz)
    );

    let etag = server
        .get(&path)
        .header("etag")
        .expect("an ETag")
        .to_string();
    let tags = [browser.header("etag"), Some(gzip_tag.as_str())];
    assert!(
        tags.iter()
            .all(|t| t.is_some() && *t != Some(etag.as_str())),
        "{etag} vs {tags:?}"
    );
    let head = server.request("HEAD", &path, &[]);
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some(body.len().to_string().as_str()))
    );
    assert!(head.body.is_empty());
    for (accept, tag) in [("identity", &etag), ("gzip", &gzip_tag)] {
        let cached = server.request(
            "GET",
            &path,
            &[("Accept-Encoding", accept), ("If-None-Match", tag)],
        );
        assert_eq!(cached.status, 304, "{accept}");
        assert_eq!(cached.header("etag"), Some(tag.as_str()));
    }
    // Made once and kept: clients arriving together, or leaving before the answer, all get it.
    let fresh = Server::start(&fx);
    for encoding in ["gzip", "identity"] {
        for _ in 0..3 {
            let mut gone = fresh.connect();
            let head =
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {encoding}\r\n\r\n");
            std::io::Write::write_all(&mut gone, head.as_bytes()).unwrap();
        }
        let answers: Vec<Response> = std::thread::scope(|scope| {
            let fresh = &fresh;
            let path = &path;
            let threads: Vec<_> = (0..6)
                .map(|_| {
                    scope
                        .spawn(move || fresh.request("GET", path, &[("Accept-Encoding", encoding)]))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for answer in &answers {
            assert_eq!(answer.status, 200, "{encoding}");
            assert!(
                answer.body == answers[0].body,
                "{encoding}: one representation for all"
            );
        }
        let plain = if encoding == "gzip" {
            gunzip(&answers[0].body)
        } else {
            answers[0].body.clone()
        };
        assert!(plain == body, "{encoding}");
    }

    // A range of it is not offered: the whole file, which RFC 9110 allows.
    let ranged = server.request("GET", &path, &[("Range", "bytes=0-9")]);
    assert_eq!(ranged.status, 200);
    assert!(ranged.body == body);
    // Files stored raw are unaffected, and a missing one is still a 404.
    assert_eq!(server.get(WASM_PATH).body, WASM);
    assert_eq!(
        server
            .get(&format!("/{HASH_DIR}/pkg/missing_bg.wasm"))
            .status,
        404
    );
    assert!(!server.stderr().contains("cannot"), "{}", server.stderr());
}

#[test]
fn caching_policy() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let immutable = Some("public, max-age=31536000, immutable");
    assert_eq!(server.get(APP).header("cache-control"), immutable);
    assert_eq!(server.get(WASM_PATH).header("cache-control"), immutable);
    assert_eq!(
        server
            .request("GET", APP, &[("Accept-Encoding", "br")])
            .header("cache-control"),
        immutable
    );

    let index = server.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.text(), INDEX);
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(
        server.get("/index.html").header("cache-control"),
        Some("no-cache")
    );
    assert_eq!(
        server.get("/sw.js").header("cache-control"),
        Some("no-cache")
    );
    // A missing asset must not be cached for a year.
    let missing = server.get("/assets/0123456789abcdef/missing.js");
    assert_eq!(missing.status, 404);
    assert_ne!(missing.header("cache-control"), immutable);
}

#[test]
fn static_etags_and_if_none_match() {
    let fx = Fixture::new();
    let server = Server::start(&fx);

    let first = server.get(APP);
    let etag = first
        .header("etag")
        .expect("ETag on a static file")
        .to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18,
        "{etag}"
    );

    let again = server.request("GET", APP, &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(
        again.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(has_vary_accept_encoding(&again));

    let weak = format!("W/{etag}");
    let listed = format!("\"nope\", {etag}");
    assert_eq!(
        server
            .request("GET", APP, &[("If-None-Match", &weak)])
            .status,
        304
    );
    assert_eq!(
        server
            .request("GET", APP, &[("If-None-Match", &listed)])
            .status,
        304
    );
    assert_eq!(
        server
            .request("HEAD", APP, &[("If-None-Match", &etag)])
            .status,
        304
    );

    // The identity tag does not validate the brotli body, and vice versa.
    let br = server.request(
        "GET",
        APP,
        &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
    );
    assert_eq!(br.status, 200);
    assert_eq!(br.body, APP_JS_BR);
    let br_tag = br.header("etag").unwrap().to_string();
    let br_again = server.request(
        "GET",
        APP,
        &[("Accept-Encoding", "br"), ("If-None-Match", &br_tag)],
    );
    assert_eq!(br_again.status, 304);
    assert_eq!(br_again.header("etag"), Some(br_tag.as_str()));
    assert_eq!(
        server
            .request("GET", APP, &[("If-None-Match", &br_tag)])
            .status,
        200
    );

    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    let lm = first.header("last-modified").unwrap().to_string();
    let stale = server.request(
        "GET",
        APP,
        &[("If-None-Match", "\"stale\""), ("If-Modified-Since", &lm)],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.text(), APP_JS);

    // index.html through `/` and by name is the same file.
    let index_tag = server.get("/").header("etag").unwrap().to_string();
    assert_eq!(
        server.get("/index.html").header("etag"),
        Some(index_tag.as_str())
    );
    let revalidated = server.request("GET", "/", &[("If-None-Match", &index_tag)]);
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("cache-control"), Some("no-cache"));

    let head = server.request("HEAD", APP, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(
        head.header("content-length"),
        Some(APP_JS.len().to_string().as_str())
    );
}

#[test]
fn range_requests() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let etag = server.get(WASM_PATH).header("etag").unwrap().to_string();

    let part = server.request("GET", WASM_PATH, &[("Range", "bytes=0-3")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &WASM[..4]);
    assert_eq!(part.header("etag"), Some(etag.as_str()));

    let same = server.request(
        "GET",
        WASM_PATH,
        &[("Range", "bytes=4-7"), ("If-Range", &etag)],
    );
    assert_eq!(same.status, 206);
    assert_eq!(same.body, &WASM[4..8]);

    // The file changed since the client's copy: the whole file, not a mismatched piece.
    let changed = server.request(
        "GET",
        WASM_PATH,
        &[("Range", "bytes=4-7"), ("If-Range", "\"0000000000000000\"")],
    );
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body, WASM);
}

#[test]
fn api_model_resolves_the_url_and_revalidates() {
    let fx = Fixture::new();
    let server = Server::start(&fx);

    let res = server.get("/api/model");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-cache"));
    let doc: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(doc["model"]["url"], format!("{CDN}/{MODEL_FILE}"));
    assert_eq!(doc["model"]["sha256"], "ab".repeat(32));
    assert_eq!(doc["model"]["bytes"], 123);
    assert_eq!(doc["schema"], "webinfer.manifest/1");
    assert_eq!(doc["labels"], serde_json::json!(["cat", "dog"]));

    let etag = res.header("etag").expect("ETag on /api/model").to_string();
    let again = server.request("GET", "/api/model", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.header("cache-control"), Some("no-cache"));
    assert_eq!(
        server
            .request("GET", "/api/model", &[("If-None-Match", "\"other\"")])
            .status,
        200
    );

    let head = server.request("HEAD", "/api/model", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn absolute_model_urls_are_kept() {
    let fx = Fixture::new();
    fx.write_manifest(&manifest_json(
        "https://models.example.com/m.onnx",
        &"CD".repeat(32),
    ));
    let server = Server::start(&fx);
    let doc: serde_json::Value = serde_json::from_slice(&server.get("/api/model").body).unwrap();
    assert_eq!(doc["model"]["url"], "https://models.example.com/m.onnx");
}

#[test]
fn healthz() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let res = server.get("/healthz");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let doc: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"status": "ok", "model_sha256": "ab".repeat(32)})
    );
}

#[test]
fn security_headers_on_every_response() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let responses = [
        server.get("/"),
        server.get(APP),
        server.get("/api/model"),
        server.get("/healthz"),
        server.get("/nope.html"),
        server.request("POST", "/", &[]),
    ];
    for res in &responses {
        let csp = res
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("no CSP: {res:?}"));
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:9;"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains('*'),
            "{csp}"
        );
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            res.header("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(
            res.header("cross-origin-resource-policy"),
            Some("same-origin")
        );
        // Cross-origin isolation, for the threaded wasm build.
        assert_eq!(
            res.header("cross-origin-opener-policy"),
            Some("same-origin")
        );
        assert_eq!(
            res.header("cross-origin-embedder-policy"),
            Some("require-corp")
        );
    }
}

#[test]
fn only_get_and_head() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    for (method, path) in [
        ("POST", "/"),
        ("PUT", APP),
        ("DELETE", "/api/model"),
        ("POST", "/healthz"),
        ("OPTIONS", "/x"),
    ] {
        let res = server.request(method, path, &[]);
        assert_eq!(res.status, 405, "{method} {path}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"), "{method} {path}");
    }
}

#[test]
fn paths_never_leave_the_site_dir() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    for path in [
        "/../Cargo.toml",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/0123456789abcdef/..%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%2fetc%2fpasswd",
        "//etc/passwd",
        "/./../secret.txt",
    ] {
        let res = server.get(path);
        assert!(
            res.status == 404 || res.status == 400,
            "{path}: status {}",
            res.status
        );
        let text = res.text();
        assert!(
            !text.contains(SECRET) && !text.contains("root:"),
            "{path} leaked: {text}"
        );
    }
}

#[test]
fn missing_file_is_404() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    assert_eq!(server.get("/no-such-file.js").status, 404);
    assert_eq!(server.get("/assets/ffffffffffffffff/app.js").status, 404);
}

#[test]
fn oversized_request_head_is_refused() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    let big = "x".repeat(40 * 1024);
    let res = server.request("GET", "/", &[("X-Big", &big)]);
    assert_eq!(res.status, 431);
}

#[test]
fn one_log_line_per_request() {
    let fx = Fixture::new();
    let server = Server::start(&fx);
    server.get("/healthz");
    server.get("/missing");
    server.request("POST", "/api/model", &[]);
    server.get(APP);

    let logs = || -> Vec<String> {
        server
            .stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("method="))
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(5), || logs().len() >= 4),
        "{:?}",
        server.stdout_lines()
    );
    std::thread::sleep(Duration::from_millis(200));
    let lines = logs();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with("method=GET path=/healthz status=200 bytes="),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("method=GET path=/missing status=404 "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("method=POST path=/api/model status=405 "),
        "{}",
        lines[2]
    );
    let app_line = format!(
        "method=GET path={APP} status=200 bytes={} duration_ms=",
        APP_JS.len()
    );
    assert!(lines[3].starts_with(&app_line), "{}", lines[3]);
    for line in &lines {
        let ms = line.rsplit_once("duration_ms=").unwrap().1;
        assert!(ms.parse::<f64>().is_ok(), "{line}");
    }
    // Nothing else on stdout but the listening line.
    assert_eq!(
        server.stdout_lines().len(),
        5,
        "{:#?}",
        server.stdout_lines()
    );
}

#[test]
fn sigterm_exits_cleanly() {
    let fx = Fixture::new();
    let mut server = Server::start(&fx);
    assert_eq!(server.get("/healthz").status, 200);
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for_exit(&mut server.child, Duration::from_secs(5))
        .expect("exit within 5 s of SIGTERM");
    assert_eq!(exit.code(), Some(0));
    assert!(
        eventually(Duration::from_secs(2), || server
            .stderr()
            .contains("webinfer-server: shutting down")),
        "{}",
        server.stderr()
    );
}

#[test]
fn shutdown_drains_in_flight_and_closes_idle_connections() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    let fx = Fixture::new();
    let mut server = Server::start(&fx);

    // An idle keep-alive connection, as Heroku's router keeps them, must not hold up shutdown.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    assert!(idle.read(&mut buf).unwrap() > 0);

    // A request whose head is half sent when the signal arrives still gets its answer.
    let mut busy = TcpStream::connect(server.addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    busy.write_all(b"\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = busy.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    let exit = wait_for_exit(&mut server.child, Duration::from_secs(5))
        .expect("exit within 5 s of SIGTERM");
    assert_eq!(exit.code(), Some(0));
    assert_eq!(
        idle.read(&mut buf).unwrap_or(0),
        0,
        "idle connection left open"
    );
}

#[test]
fn sigint_exits_cleanly() {
    let fx = Fixture::new();
    let mut server = Server::start(&fx);
    Command::new("kill")
        .args(["-INT", &server.pid().to_string()])
        .status()
        .unwrap();
    let exit = wait_for_exit(&mut server.child, Duration::from_secs(5))
        .expect("exit within 5 s of SIGINT");
    assert_eq!(exit.code(), Some(0));
}

fn without(env: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    env.into_iter().filter(|(k, _)| *k != name).collect()
}

fn with(
    env: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut env = without(env, name);
    env.push((name, value.to_string()));
    env
}

#[test]
fn missing_cdn_url_exits_2() {
    let fx = Fixture::new();
    let (status, stderr) = run_to_exit(&without(fx.env(), "WEBINFER_CDN_URL"));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("webinfer-server: ") && stderr.contains("WEBINFER_CDN_URL"),
        "{stderr}"
    );
}

#[test]
fn bad_config_exits_2_naming_the_variable() {
    let fx = Fixture::new();
    for (name, value) in [
        ("WEBINFER_CDN_URL", "cdn.example.com/models"),
        ("WEBINFER_CDN_URL", "https://cdn.example.com; script-src *"),
        ("PORT", "eighty"),
        ("WEBINFER_SITE_DIR", "/nonexistent/webinfer-site"),
    ] {
        let (status, stderr) = run_to_exit(&with(fx.env(), name, value));
        assert_eq!(status.code(), Some(2), "{name}={value}: {stderr}");
        let named = if name == "WEBINFER_SITE_DIR" {
            value
        } else {
            name
        };
        assert!(stderr.contains(named), "{name}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bad_manifest_exits_2_naming_the_file_and_field() {
    let fx = Fixture::new();
    let manifest = path_str(&fx.manifest);
    let sha = "ab".repeat(32);
    let cases = [
        ("{not json".to_string(), "not valid JSON"),
        (
            manifest_json(MODEL_FILE, &sha).replace("webinfer.manifest/1", "webinfer.manifest/9"),
            "`schema`",
        ),
        (manifest_json(MODEL_FILE, "1234"), "`model.sha256`"),
        (
            manifest_json(MODEL_FILE, &"zz".repeat(32)),
            "`model.sha256`",
        ),
        (
            manifest_json(MODEL_FILE, &sha).replace("\"url\"", "\"href\""),
            "`model.url`",
        ),
        (manifest_json("ftp://x/m.onnx", &sha), "`model.url`"),
    ];
    for (text, field) in cases {
        fx.write_manifest(&text);
        let (status, stderr) = run_to_exit(&fx.env());
        assert_eq!(status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(&manifest) && stderr.contains(field),
            "{field}: {stderr}"
        );
    }
    let (status, stderr) = run_to_exit(&with(
        fx.env(),
        "WEBINFER_MANIFEST",
        "/nonexistent/model.manifest.json",
    ));
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("/nonexistent/model.manifest.json") && stderr.contains("WEBINFER_MANIFEST"),
        "{stderr}"
    );
}
