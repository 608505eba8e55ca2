//! The static site: tower-http's ServeDir does the file serving (precompressed .br/.gz
//! siblings, ranges, `/` -> index.html, refusing paths that leave the directory); this module
//! adds what it lacks: serving only what the start-up index lists, strong ETags, caching policy,
//! `Vary`, `If-Range`, charset-correct types, and files stored only compressed: the wasm builds
//! are stored as brotli alone (raw and gzip too, they would make the slug 14 MB instead of 6),
//! so a client without brotli gets gzip made once from it, or the file decompressed.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tower_http::services::ServeDir;

use crate::headers::{etag_from, none_match_hits, strong_match};
use crate::App;

/// Content-hashed build output: a changed file gets a new URL, so it can be cached for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (index.html, sw.js, ...) must be revalidated so a deploy shows up at once.
const REVALIDATE: &str = "no-cache";

/// Symlinked directories are followed (as ServeDir does); this stops a loop.
const MAX_DEPTH: usize = 32;

pub struct Site {
    serve: ServeDir,
    /// Keyed by the path relative to the site dir, `/`-separated, as ServeDir resolves it.
    files: HashMap<String, Entry>,
    pub file_count: usize,
}

/// One URL and the representations ServeDir may send for it.
#[derive(Default)]
struct Entry {
    identity: Option<Rep>,
    br: Option<Rep>,
    gzip: Option<Rep>,
    /// For a file stored only compressed (no raw file): what the other clients get.
    unstored: Option<Unstored>,
}

/// A file stored as `.br` and/or `.gz` alone, described at startup. What a client needs and no
/// file holds is made on the first request that needs it, then kept (at most the raw size of
/// the wasm builds, 37 MB, and their gzip): clients without brotli (some browsers send `br` only
/// over https) cost one decompression or compression in all, not one per request.
struct Unstored {
    /// The stored file decompressed for identity; brotli when there is no `.gz`.
    source: std::path::PathBuf,
    from_brotli: bool,
    etag: HeaderValue,
    len: u64,
    identity: Arc<OnceCell<Bytes>>,
    /// Only when no `.gz` is stored: gzip made from the brotli, and its ETag.
    gzip: Arc<OnceCell<(Bytes, HeaderValue)>>,
}

#[derive(Clone)]
struct Rep {
    etag: HeaderValue,
    /// What ServeDir will send as Last-Modified, and the size: if either differs at request time
    /// the file changed since startup and its ETag is stale, so none is sent.
    last_modified: Option<String>,
    len: u64,
}

impl Site {
    /// Walks and hashes the whole site once: it is read-only in a Heroku slug, and hashing at
    /// startup keeps requests to a lookup.
    pub fn index(dir: &Path) -> Result<Site, String> {
        let shown = dir.display();
        let meta = fs::metadata(dir).map_err(|e| {
            format!(
                "site directory {shown}: {e}; build the site first or set WEBINFER_SITE_DIR to it"
            )
        })?;
        if !meta.is_dir() {
            return Err(format!("site directory {shown} is not a directory; set WEBINFER_SITE_DIR to the built site"));
        }
        let mut site = Site {
            serve: ServeDir::new(dir).precompressed_br().precompressed_gzip(),
            files: HashMap::new(),
            file_count: 0,
        };
        site.walk(dir, "", 0)?;
        for (key, entry) in &mut site.files {
            if entry.identity.is_none() && (entry.gzip.is_some() || entry.br.is_some()) {
                let from_brotli = entry.gzip.is_none();
                let source = dir.join(format!("{key}.{}", if from_brotli { "br" } else { "gz" }));
                let bytes = decompress(&source, from_brotli)?;
                entry.unstored = Some(Unstored {
                    source,
                    from_brotli,
                    etag: etag_from(Sha256::new_with_prefix(&bytes)),
                    len: bytes.len() as u64,
                    identity: Arc::default(),
                    gzip: Arc::default(),
                });
            }
        }
        Ok(site)
    }

    fn walk(&mut self, dir: &Path, prefix: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "{}: directories nested deeper than {MAX_DEPTH} (a symlink loop?)",
                dir.display()
            ));
        }
        let read_err =
            |e: std::io::Error| format!("cannot read site directory {}: {e}", dir.display());
        for item in fs::read_dir(dir).map_err(read_err)? {
            let item = item.map_err(read_err)?;
            // ServeDir only serves UTF-8 paths, so other names are unreachable anyway.
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            let path = item.path();
            // Follows symlinks like ServeDir; a dangling one is just not served.
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            let key = format!("{prefix}{name}");
            if meta.is_dir() {
                self.walk(&path, &format!("{key}/"), depth + 1)?;
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let rep = Rep::of(&path, &meta)?;
            // `x.br` is both a file of its own and the brotli representation of `x`.
            if let Some(base) = key.strip_suffix(".br") {
                self.files.entry(base.to_owned()).or_default().br = Some(rep.clone());
            } else if let Some(base) = key.strip_suffix(".gz") {
                self.files.entry(base.to_owned()).or_default().gzip = Some(rep.clone());
            }
            self.files.entry(key).or_default().identity = Some(rep);
            self.file_count += 1;
        }
        Ok(())
    }

    /// Whether `key` (see `site_key`) names a file of the index, or a directory with an
    /// index.html that ServeDir redirects to (`/docs` -> `/docs/`).
    fn knows(&self, key: &str) -> bool {
        self.files.contains_key(key) || self.files.contains_key(&format!("{key}/index.html"))
    }

    /// One ServeDir request. ServeDir is cheap to clone (a path and flags).
    async fn call(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
        let mut req = Request::new(Body::empty());
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers.clone();
        match self.serve.clone().try_call(req).await {
            Ok(res) => res.map(Body::new),
            Err(e) => {
                eprintln!("webinfer-server: serving {}: {e}", uri.path());
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl Rep {
    fn of(path: &Path, meta: &fs::Metadata) -> Result<Rep, String> {
        let err = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let mut file = fs::File::open(path).map_err(err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Rep {
            etag: etag_from(hasher),
            last_modified: meta.modified().ok().map(httpdate::fmt_http_date),
            len: meta.len(),
        })
    }

    /// Whether `res` (a 200 or 206 from ServeDir) is still this file as hashed at startup.
    fn describes(&self, res: &Response) -> bool {
        let h = res.headers();
        let last_modified = h.get(header::LAST_MODIFIED).and_then(|v| v.to_str().ok());
        let len_ok = if res.status() == StatusCode::PARTIAL_CONTENT {
            h.get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit_once('/'))
                .is_some_and(|(_, total)| total == self.len.to_string())
        } else {
            h.get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() == self.len.to_string().as_bytes())
        };
        len_ok && last_modified == self.last_modified.as_deref()
    }
}

impl Entry {
    /// The representation ServeDir chose, told by the Content-Encoding it set.
    fn sent(&self, res: &Response) -> Option<&Rep> {
        let rep = match res
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.as_bytes())
        {
            None => self.identity.as_ref(),
            Some(b"br") => self.br.as_ref(),
            Some(b"gzip") => self.gzip.as_ref(),
            Some(_) => None,
        };
        rep.filter(|rep| rep.describes(res))
    }

    fn has_variants(&self) -> bool {
        self.br.is_some() || self.gzip.is_some()
    }
}

/// The fallback route: everything that is not an API route is a file.
pub async fn serve(State(app): State<Arc<App>>, req: Request) -> Response {
    let site = &app.site;
    let (parts, _) = req.into_parts();
    let mut headers = parts.headers;
    let if_none_match = headers.get(header::IF_NONE_MATCH).cloned();
    let if_range = headers.get(header::IF_RANGE).cloned();
    // RFC 9110 13.2.2: If-None-Match overrides If-Modified-Since; ServeDir would honour the latter.
    if if_none_match.is_some() {
        headers.remove(header::IF_MODIFIED_SINCE);
    }

    let key = site_key(parts.uri.path());
    // Only paths the start-up index knows reach ServeDir, and so the file system: any other
    // path (a 300-character segment the OS refuses, a device name, invalid UTF-8) is a plain 404
    // here, never an I/O error turned into a 500.
    let mut res = if key.as_deref().is_some_and(|k| site.knows(k)) {
        site.call(&parts.method, &parts.uri, &headers).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    };

    let entry = key.as_deref().and_then(|k| site.files.get(k));
    // ServeDir found no stored encoding the client accepts and no raw file. The caching and
    // type headers below apply to this answer too.
    if let Some(unstored) = entry.and_then(|e| e.unstored.as_ref()) {
        if res.status() == StatusCode::NOT_FOUND {
            res = unstored
                .send(
                    &parts.method,
                    &headers,
                    if_none_match.as_ref(),
                    key.as_deref(),
                )
                .await;
        }
    }
    let served = matches!(res.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT);
    let rep = entry.filter(|_| served).and_then(|e| e.sent(&res)).cloned();

    if let Some(rep) = &rep {
        if if_none_match
            .as_ref()
            .is_some_and(|inm| none_match_hits(inm, &rep.etag))
        {
            res = not_modified(&res, &rep.etag);
        }
    }
    // ServeDir ignores If-Range: a range of a changed file must become the whole file.
    if res.status() == StatusCode::PARTIAL_CONTENT {
        if let Some(if_range) = if_range.as_ref().and_then(|v| v.to_str().ok()) {
            if !if_range_holds(if_range, rep.as_ref(), &res) {
                headers.remove(header::RANGE);
                headers.remove(header::IF_RANGE);
                res = site.call(&parts.method, &parts.uri, &headers).await;
            }
        }
    }

    let status = res.status();
    let h = res.headers_mut();
    if let Some(rep) = &rep {
        if matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
            h.insert(header::ETAG, rep.etag.clone());
        }
    }
    let cacheable = matches!(
        status,
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    );
    // ServeDir picks .br/.gz by Accept-Encoding but does not say so; shared caches must know.
    if cacheable && entry.is_some_and(Entry::has_variants) {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    let immutable = cacheable && key.as_deref().is_some_and(|k| k.starts_with("assets/"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable { IMMUTABLE } else { REVALIDATE }),
    );
    fix_content_type(h, key.as_deref());
    res
}

impl Unstored {
    /// Gzip made from the brotli when the client takes gzip, else the file decompressed: a 200
    /// with the whole body (a Range is ignored, as RFC 9110 allows), or a 304 when the client
    /// has it. `serve` adds the caching headers, as for every file.
    async fn send(
        &self,
        method: &Method,
        headers: &HeaderMap,
        if_none_match: Option<&HeaderValue>,
        key: Option<&str>,
    ) -> Response {
        let gzip = if self.from_brotli && accepts_gzip(headers) {
            let source = self.source.clone();
            match made_once(&self.gzip, move || gzip_of(&source)).await {
                Ok(made) => Some(made),
                Err(e) => return failed(&e),
            }
        } else {
            None
        };
        let etag = gzip.as_ref().map_or(&self.etag, |(_, etag)| etag).clone();
        let mut res = if if_none_match.is_some_and(|inm| none_match_hits(inm, &etag)) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let (body, len) = match (&gzip, method == Method::HEAD) {
                (Some((bytes, _)), head) => (
                    if head {
                        Body::empty()
                    } else {
                        Body::from(bytes.clone())
                    },
                    bytes.len() as u64,
                ),
                (None, true) => (Body::empty(), self.len),
                (None, false) => {
                    let (source, from_brotli) = (self.source.clone(), self.from_brotli);
                    let made = made_once(&self.identity, move || {
                        decompress(&source, from_brotli).map(Bytes::from)
                    });
                    match made.await {
                        Ok(bytes) => (Body::from(bytes.clone()), bytes.len() as u64),
                        Err(e) => return failed(&e),
                    }
                }
            };
            let mut res = Response::new(body);
            let h = res.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if gzip.is_some() {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            let mime = mime_guess::from_path(key.unwrap_or_default()).first_or_octet_stream();
            if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
                h.insert(header::CONTENT_TYPE, value);
            }
            res
        };
        res.headers_mut().insert(header::ETAG, etag);
        res
    }
}

/// `cell`'s value, made by `make` on the blocking pool the first time. The making runs in a task
/// of its own: a request that gives up (client gone, timeout) neither cancels it nor leaves the
/// next request to start another. A failure is not kept: the next request tries again.
async fn made_once<T: Clone + Send + Sync + 'static>(
    cell: &Arc<OnceCell<T>>,
    make: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    if let Some(value) = cell.get() {
        return Ok(value.clone());
    }
    let cell = Arc::clone(cell);
    tokio::spawn(async move {
        let made = cell.get_or_try_init(|| async {
            tokio::task::spawn_blocking(make)
                .await
                .map_err(|e| format!("making a representation: {e}"))?
        });
        made.await.cloned()
    })
    .await
    .map_err(|e| format!("making a representation: {e}"))?
}

fn failed(e: &str) -> Response {
    eprintln!("webinfer-server: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Whether Accept-Encoding allows gzip: `gzip`/`x-gzip`, or `*`, with a q-value above 0.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => any = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

fn decompress(path: &Path, brotli: bool) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let reader = std::io::BufReader::new(file);
    let mut bytes = Vec::new();
    let read = if brotli {
        brotli_decompressor::Decompressor::new(reader, 64 * 1024).read_to_end(&mut bytes)
    } else {
        flate2::read::GzDecoder::new(reader).read_to_end(&mut bytes)
    };
    read.map_err(|e| format!("cannot decompress {}: {e}", path.display()))?;
    Ok(bytes)
}

/// Gzip (level 9, as build.sh compresses) of a brotli file, and its ETag.
fn gzip_of(brotli: &Path) -> Result<(Bytes, HeaderValue), String> {
    use std::io::Write;
    let raw = decompress(brotli, true)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let gz = encoder
        .write_all(&raw)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("cannot gzip {}: {e}", brotli.display()))?;
    let etag = etag_from(Sha256::new_with_prefix(&gz));
    Ok((gz.into(), etag))
}

/// The site-relative path ServeDir will read for a request path (None if it will refuse it):
/// percent-decoded, `.` and empty segments dropped, `index.html` for directories.
fn site_key(path: &str) -> Option<String> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s => segments.push(s),
        }
    }
    let mut key = segments.join("/");
    if decoded.ends_with('/') {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str("index.html");
    }
    Some(key)
}

/// RFC 9110 13.1.5: an entity tag must match strongly; a date must equal Last-Modified.
fn if_range_holds(if_range: &str, rep: Option<&Rep>, res: &Response) -> bool {
    if if_range.starts_with('"') || if_range.starts_with("W/") {
        rep.is_some_and(|rep| strong_match(if_range, &rep.etag))
    } else {
        res.headers()
            .get(header::LAST_MODIFIED)
            .is_some_and(|lm| lm.as_bytes() == if_range.as_bytes())
    }
}

fn not_modified(res: &Response, etag: &HeaderValue) -> Response {
    let mut out = StatusCode::NOT_MODIFIED.into_response();
    out.headers_mut().insert(header::ETAG, etag.clone());
    if let Some(lm) = res.headers().get(header::LAST_MODIFIED) {
        out.headers_mut().insert(header::LAST_MODIFIED, lm.clone());
    }
    out
}

/// mime_guess (via ServeDir) gives `text/*` without a charset (HTML would then default to
/// windows-1252), `.mjs` the obsolete application/javascript and `.map` text/plain.
/// `.wasm` is already application/wasm, which streaming compilation requires.
fn fix_content_type(headers: &mut HeaderMap, key: Option<&str>) {
    let Some(current) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let fixed = match current {
        _ if key.is_some_and(|k| k.ends_with(".map")) => "application/json",
        "text/html" => "text/html; charset=utf-8",
        "text/css" => "text/css; charset=utf-8",
        "text/plain" => "text/plain; charset=utf-8",
        "text/javascript" | "application/javascript" => "text/javascript; charset=utf-8",
        _ => return,
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(fixed));
}

#[cfg(test)]
mod tests {
    use super::site_key;

    #[test]
    fn keys_follow_servedir() {
        assert_eq!(site_key("/").as_deref(), Some("index.html"));
        assert_eq!(site_key("/docs/").as_deref(), Some("docs/index.html"));
        assert_eq!(
            site_key("/assets/0123/app.js").as_deref(),
            Some("assets/0123/app.js")
        );
        assert_eq!(site_key("/a%20b//./c.js").as_deref(), Some("a b/c.js"));
        assert_eq!(site_key("/%2e%2e/x"), None);
        assert_eq!(site_key("/assets/..%2f..%2fx"), None);
    }
}
