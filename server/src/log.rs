//! One line per request on stdout, in Heroku's key=value style so `heroku logs` and log drains
//! can parse it: `method=GET path=/api/model status=200 bytes=1234 duration_ms=0.4`.

use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // hyper only accepts visible ASCII in the request target, so the path cannot forge lines.
    let path = req.uri().path().to_owned();

    let res = next.run(req).await;

    // Time to the response head; a large file keeps streaming after this.
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let bytes = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| res.body().size_hint().exact().map(|n| n.to_string()))
        .unwrap_or_else(|| "-".into());
    println!(
        "method={method} path={path} status={} bytes={bytes} duration_ms={ms:.1}",
        res.status().as_u16()
    );
    res
}
