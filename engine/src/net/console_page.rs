//! The web dispatch console: one page, a script and a style sheet, compiled into the
//! binary (`engine/src/console/`) so the engine serves its console with no files to
//! install and the page needs no network but the engine. The page reads its console
//! token from `?token=` or an entry field; the assets themselves need none.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// An embedded file, revalidated on every load (the console's and the driver app's).
pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The assets change with the binary; a restarted engine must not be shown
            // yesterday's script.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    let mut resp = asset("text/html; charset=utf-8", INDEX);
    // Everything the page loads comes from the engine itself.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    resp
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
