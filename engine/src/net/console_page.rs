//! The web dispatch console: one page, a script and a style sheet, compiled into the
//! binary (`engine/src/console/`) so the engine serves its console with no files to
//! install and the page needs no network but the engine. The page reads its console
//! token from `?token=` or an entry field; the assets themselves need none. The script
//! is an ES module that loads its parts from `/console/` (no build step).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// The page's ES modules under `/console/`: name, body.
const MODULES: &[(&str, &str)] = &[
    ("shared.js", include_str!("../console/shared.js")),
    ("geo.js", include_str!("../console/geo.js")),
    ("conn.js", include_str!("../console/conn.js")),
    ("draw.js", include_str!("../console/draw.js")),
    ("panels.js", include_str!("../console/panels.js")),
    ("create.js", include_str!("../console/create.js")),
    ("fleet.js", include_str!("../console/fleet.js")),
    ("alerts.js", include_str!("../console/alerts.js")),
    ("replay.js", include_str!("../console/replay.js")),
    ("polyline.js", include_str!("../console/polyline.js")),
];

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

/// `GET /console/{asset}`: one of the page's modules, or 404.
pub async fn module(Path(name): Path<String>) -> Response {
    match MODULES.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => asset("text/javascript; charset=utf-8", body),
        None => ApiError::not_found(format!("no console file {name:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{MODULES, SCRIPT};

    /// Every module the script and its modules import is served under `/console/`,
    /// and every served module is imported by something.
    #[test]
    fn every_imported_module_is_served() {
        let imports = |text: &str| -> Vec<String> {
            text.split("from \"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(|path| path.rsplit('/').next().unwrap_or(path).to_string())
                .collect()
        };
        let mut imported: Vec<String> = imports(SCRIPT);
        for (_, body) in MODULES {
            imported.extend(imports(body));
        }
        for name in &imported {
            assert!(
                MODULES.iter().any(|(n, _)| n == name),
                "{name} is imported but not served"
            );
        }
        for (name, _) in MODULES {
            assert!(
                imported.iter().any(|i| i == name),
                "{name} is never imported"
            );
        }
    }
}
