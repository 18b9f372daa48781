//! The network edge: one listener serving HTTP (axum) and both WebSocket endpoints
//! (tokio-tungstenite over a hyper upgrade). A connection is accepted and held to its
//! timeouts and caps by `conns`; a request flows `http` (routes, auth, body limits) → `ws` (upgrade, framing, codec) →
//! `driver_session` / `console_session` → actors. `admin` holds operator endpoints (backup). `console_page` serves the web
//! dispatch console (assets compiled into the binary).

pub mod admin;
pub mod conns;
pub mod console_page;
pub mod console_session;
pub mod driver_session;
pub mod extract;
pub mod http;
pub mod limits;
pub mod openapi;
pub mod ws;
