//! Configuration from the environment only, Heroku style: every problem is reported with the
//! variable's name and how to fix it, never a panic.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORT` | 8080 | port to listen on (0 picks a free one) |
//! | `WEBINFER_CDN_URL` | required | base URL of the CDN holding the model files |
//! | `WEBINFER_SITE_DIR` | `site` | the built static site |
//! | `WEBINFER_MANIFEST` | `model.manifest.json` | the model manifest |
//! | `WEBINFER_HEADER_TIMEOUT_MS` | 10000 | how long a client may take to send a request head (also the idle keep-alive limit); meant for tests, leave unset in production |

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 8080;

/// A client gets this long to send a complete request head, from the moment the connection is
/// opened or its previous response was sent; then it is disconnected (slowloris defence).
/// Heroku's router sends a head at once, so this only ever cuts off slow or idle clients.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Config {
    /// 0 lets the OS pick a free port (tests use it).
    pub port: u16,
    /// The CDN base URL, always ending in `/`, so relative model URLs join onto it.
    pub cdn_base: String,
    /// `scheme://host[:port]` of the CDN, for the CSP's connect-src.
    pub cdn_origin: String,
    pub site_dir: PathBuf,
    pub manifest: PathBuf,
    /// `HEADER_READ_TIMEOUT` unless `WEBINFER_HEADER_TIMEOUT_MS` overrides it.
    pub header_read_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Config::from_lookup(|name| std::env::var_os(name))
    }

    /// Separate from `from_env` so unit tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Config, String> {
        let var = |name: &str| -> Result<Option<String>, String> {
            match get(name) {
                None => Ok(None),
                Some(value) => match value.into_string() {
                    // An empty value means "unset": `PORT= webinfer-server` should not be an error.
                    Ok(s) if s.is_empty() => Ok(None),
                    Ok(s) => Ok(Some(s)),
                    Err(_) => Err(format!("{name} is not valid UTF-8")),
                },
            }
        };

        let port = match var("PORT")? {
            None => DEFAULT_PORT,
            Some(s) => s.trim().parse::<u16>().map_err(|_| {
                format!(
                    "PORT={s:?} is not a port number; set PORT to 0-65535 (0 picks a free port)"
                )
            })?,
        };

        let cdn = var("WEBINFER_CDN_URL")?.ok_or_else(|| {
            "WEBINFER_CDN_URL is not set; set it to the base URL of the CDN that holds the model \
             files, e.g. WEBINFER_CDN_URL=https://cdn.example.com/models/"
                .to_string()
        })?;
        let (cdn_base, cdn_origin) =
            parse_cdn_url(&cdn).map_err(|why| format!("WEBINFER_CDN_URL={cdn:?}: {why}"))?;

        let site_dir = PathBuf::from(var("WEBINFER_SITE_DIR")?.unwrap_or_else(|| "site".into()));
        let manifest = PathBuf::from(
            var("WEBINFER_MANIFEST")?.unwrap_or_else(|| "model.manifest.json".into()),
        );

        let header_read_timeout = match var("WEBINFER_HEADER_TIMEOUT_MS")? {
            None => HEADER_READ_TIMEOUT,
            Some(s) => match s.trim().parse::<u64>() {
                Ok(ms) if (1..=3_600_000).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    return Err(format!(
                        "WEBINFER_HEADER_TIMEOUT_MS={s:?} is not a number of milliseconds from 1 \
                         to 3600000; unset it for the default ({} s)",
                        HEADER_READ_TIMEOUT.as_secs()
                    ))
                }
            },
        };

        Ok(Config {
            port,
            cdn_base,
            cdn_origin,
            site_dir,
            manifest,
            header_read_timeout,
        })
    }
}

/// Checks the CDN URL and returns (base with a trailing `/`, origin).
///
/// Deliberately strict: the origin is pasted into a CSP header and the base into every model
/// URL, so anything that could break out of either (quotes, `;`, `,`, spaces) or that makes no
/// sense for a base (query, fragment, credentials) is refused rather than escaped.
pub fn parse_cdn_url(url: &str) -> Result<(String, String), String> {
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        ("https", rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        ("http", rest)
    } else {
        return Err("must start with http:// or https://".into());
    };

    if let Some(bad) = url
        .chars()
        .find(|c| !c.is_ascii_graphic() || "\"'`;,\\<>{}|^".contains(*c))
    {
        return Err(format!(
            "contains {bad:?}, which is not allowed in a URL here"
        ));
    }
    if url.contains('?') || url.contains('#') {
        return Err(
            "must not have a query or fragment: it is a base that file names are appended to"
                .into(),
        );
    }

    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err("has no host".into());
    }
    if authority.contains('@') {
        return Err(
            "must not contain credentials (user@host): they would be sent to every browser".into(),
        );
    }
    if !authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
    {
        return Err("the host part has characters a host name cannot have".into());
    }

    let origin = format!("{scheme}://{}", authority.to_ascii_lowercase());
    let mut base = format!("{origin}{path}");
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok((base, origin))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[("WEBINFER_CDN_URL", "https://cdn.example.com/models")]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.cdn_base, "https://cdn.example.com/models/");
        assert_eq!(c.cdn_origin, "https://cdn.example.com");
        assert_eq!(c.site_dir, PathBuf::from("site"));
        assert_eq!(c.manifest, PathBuf::from("model.manifest.json"));
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
    }

    #[test]
    fn header_timeout_override() {
        let cdn = ("WEBINFER_CDN_URL", "https://c.example");
        let c = config(&[cdn, ("WEBINFER_HEADER_TIMEOUT_MS", "250")]).unwrap();
        assert_eq!(c.header_read_timeout, Duration::from_millis(250));
        for bad in ["0", "-1", "1.5", "10s", "99999999999"] {
            let err = config(&[cdn, ("WEBINFER_HEADER_TIMEOUT_MS", bad)]).unwrap_err();
            assert!(
                err.starts_with("WEBINFER_HEADER_TIMEOUT_MS="),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn port_errors_name_the_variable() {
        let err =
            config(&[("PORT", "http"), ("WEBINFER_CDN_URL", "https://c.example")]).unwrap_err();
        assert!(err.starts_with("PORT="), "{err}");
        assert_eq!(
            config(&[("PORT", "0"), ("WEBINFER_CDN_URL", "https://c.example")])
                .unwrap()
                .port,
            0
        );
    }

    #[test]
    fn cdn_is_required() {
        assert!(config(&[]).unwrap_err().contains("WEBINFER_CDN_URL"));
    }

    #[test]
    fn cdn_url_parsing() {
        assert_eq!(
            parse_cdn_url("HTTP://127.0.0.1:9/cdn").unwrap(),
            (
                "http://127.0.0.1:9/cdn/".to_string(),
                "http://127.0.0.1:9".to_string()
            )
        );
        assert_eq!(
            parse_cdn_url("https://cdn.example.com").unwrap().0,
            "https://cdn.example.com/"
        );
        assert_eq!(
            parse_cdn_url("https://[::1]:8443/m/").unwrap().1,
            "https://[::1]:8443"
        );
        for bad in [
            "cdn.example.com",
            "ftp://cdn.example.com",
            "https://",
            "https:///x",
            "https://u:p@cdn.example.com/",
            "https://cdn.example.com/?v=1",
            "https://cdn.example.com; script-src *",
            "https://cdn.example.com/a b",
            "https://cdn'.example.com/",
        ] {
            assert!(parse_cdn_url(bad).is_err(), "{bad} was accepted");
        }
    }
}
