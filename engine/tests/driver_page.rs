//! The driver app's files over HTTP, without a token: the page with its CSP, each file
//! with its content type and `no-cache`, the service worker allowed to serve `/driver`,
//! and an unknown file a JSON 404.

mod common;

use common::Engine;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_app_is_served_without_a_token_with_its_content_types() {
    let e = Engine::start(|_| {}).await;
    let get = |path: &str| reqwest::get(e.url(path));
    let page = get("/driver").await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/driver/app.js"));
    for (path, ctype) in [
        ("/driver/app.js", "text/javascript; charset=utf-8"),
        ("/driver/wire.js", "text/javascript; charset=utf-8"),
        ("/driver/app.css", "text/css; charset=utf-8"),
        ("/driver/manifest.webmanifest", "application/manifest+json"),
        ("/driver/icon.svg", "image/svg+xml"),
        ("/driver/sw.js", "text/javascript; charset=utf-8"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ctype, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        if path.ends_with("sw.js") {
            assert_eq!(r.headers()["service-worker-allowed"], "/driver");
        }
    }
    let manifest: Value = get("/driver/manifest.webmanifest")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["start_url"], "/driver");
    let missing = get("/driver/nope.js").await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    e.spawned.stop().await.unwrap();
}
