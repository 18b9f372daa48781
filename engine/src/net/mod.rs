//! The network edge: one listener serving HTTP (axum) and both WebSocket endpoints
//! (tokio-tungstenite over a hyper upgrade). A connection is accepted and held to its
//! timeouts and caps by `conns`; a request flows `http` (routes, auth, body limits) → `ws` (upgrade, framing, codec) →
//! `driver_session` / `console_session` → actors. `console_page` serves the web
//! dispatch console (assets compiled into the binary), `driver_page` the driver app
//! (`/driver`, likewise embedded) and `proof` its proof-of-delivery photos. `actions` are the order changes
//! made on behalf of a token (role check, change, audit record); `admin` the token and
//! audit endpoints; `backup` the online store backup; `trackers` phone tracker apps
//! (OsmAnd, Traccar Client) and `trail` a driver's position history; `ready` answers
//! `/readyz` and holds the API (503) while recovery runs after a start.

pub mod actions;
pub mod admin;
pub mod backup;
pub mod body_end;
pub mod conns;
pub mod console_page;
pub mod console_session;
pub mod driver_page;
pub mod driver_session;
pub mod extract;
pub mod http;
pub mod limits;
pub mod nearest;
pub mod openapi;
pub mod proof;
pub mod ready;
pub mod roads;
pub mod trackers;
pub mod trail;
pub mod ws;
