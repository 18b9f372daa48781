//! The driver web app at `/driver`: a page, its ES modules, style sheet, web app
//! manifest, service worker and icon, compiled into the binary
//! (`engine/src/driver_app/`) like the console, so a phone needs nothing but the
//! engine. The page reads its driver token from `?token=` or a sign-in form; the files
//! themselves need none.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::console_page::asset as embedded;
use crate::error::ApiError;

const INDEX: &str = include_str!("../driver_app/index.html");

/// Every file under `/driver/`: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/app.js"),
    ),
    (
        "wire.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/wire.js"),
    ),
    (
        "outbox.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/outbox.js"),
    ),
    (
        "stops.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/stops.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/map.js"),
    ),
    (
        "polyline.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/polyline.js"),
    ),
    (
        "qr.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/qr.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../driver_app/app.css"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_str!("../driver_app/manifest.webmanifest"),
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        include_str!("../driver_app/sw.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../driver_app/icon.svg"),
    ),
];

/// Everything the page loads comes from the engine; photos preview as `blob:` URLs.
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; \
    worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /driver`: the app's page.
pub async fn index() -> Response {
    let mut resp = embedded("text/html; charset=utf-8", INDEX);
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

/// `GET /driver/{asset}`: one of the app's files, or 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found(format!("no driver app file {name:?}")).into_response();
    };
    let mut resp = embedded(content_type, body);
    if name == "sw.js" {
        // The worker lives under /driver/ but serves the page at /driver too.
        resp.headers_mut().insert(
            header::HeaderName::from_static("service-worker-allowed"),
            HeaderValue::from_static("/driver"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, INDEX};

    /// The service worker caches the page and every file but itself, and nothing else;
    /// every file the page and the modules load is served.
    #[test]
    fn the_service_worker_caches_exactly_the_served_files() {
        let sw = ASSETS.iter().find(|(n, _, _)| *n == "sw.js").unwrap().2;
        let list = &sw[sw.find("const SHELL = [").unwrap()..];
        let list = &list[..list.find("];").unwrap()];
        let shell: Vec<&str> = list
            .split('"')
            .filter(|s| *s == "/driver" || s.starts_with("/driver/"))
            .collect();
        let mut want = vec!["/driver".to_string()];
        want.extend(
            ASSETS
                .iter()
                .filter(|(n, _, _)| *n != "sw.js")
                .map(|(n, _, _)| format!("/driver/{n}")),
        );
        assert_eq!(shell, want);
        let texts = std::iter::once(INDEX).chain(ASSETS.iter().map(|(_, _, body)| *body));
        for text in texts {
            for part in text.split(['"', '\'']).filter(|s| s.starts_with("./")) {
                let name = part.trim_start_matches("./");
                assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name}");
            }
        }
    }
}
