//! The OpenAPI 3 document of the HTTP API, served at `/openapi.json`. Built here next
//! to the router; a test checks that it lists exactly the routes the router serves
//! (`http::ROUTES`).

use serde_json::{json, Map, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn errors() -> Value {
    json!({
        "400": error_response("invalid_argument, out_of_service_area or failed_precondition"),
        "401": error_response("unauthenticated: missing, invalid, expired or revoked token"),
        "403": error_response("permission_denied: the token (its kind or console role) may not do this"),
        "429": error_response("rate_limited (Retry-After header)"),
        "503": error_response("overloaded (Retry-After header): too busy, or still recovering after a start (see /readyz)")
    })
}

fn with_errors(mut ok: Value) -> Value {
    if let (Some(o), Value::Object(e)) = (ok.as_object_mut(), errors()) {
        for (k, v) in e {
            o.entry(k).or_insert(v);
        }
    }
    ok
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}})
}

pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "dispatch engine",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Real-time dispatch for last-mile delivery. WebSocket messages are documented in docs/protocol.md."
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "query": {"type": "apiKey", "in": "query", "name": "token"}
            },
            "schemas": merged([error_schema(), order_schemas(), driver_schemas(), stats_schemas(), admin_schemas()])
        },
        "security": [{"bearer": []}, {"query": []}],
        "paths": merged([public_paths(), driver_paths(), tracker_paths(), order_paths(), console_and_socket_paths(), admin_paths()])
    })
}

/// One object with the entries of `parts`, in order.
fn merged(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut all = Map::new();
    for part in parts {
        if let Value::Object(o) = part {
            all.extend(o);
        }
    }
    Value::Object(all)
}

fn error_schema() -> Value {
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "enum": ["invalid_argument", "unauthenticated", "permission_denied", "not_found", "conflict", "too_large", "rate_limited", "overloaded", "out_of_service_area", "failed_precondition", "internal", "deadline_exceeded", "method_not_allowed"]},
            "message": {"type": "string"}}}}},
        "Readiness": {"type": "object", "required": ["status", "phase", "drivers", "open_orders", "elapsed_ms"], "properties": {
            "status": {"type": "string", "enum": ["recovering", "ready", "failed"]},
            "phase": {"type": "string", "enum": ["loading", "restoring_drivers", "queueing_orders", "ready", "failed"]},
            "drivers": {"$ref": "#/components/schemas/Progress"},
            "open_orders": {"$ref": "#/components/schemas/Progress"},
            "elapsed_ms": {"type": "integer", "description": "since recovery began; once ready, how long it took"},
            "error": {"type": "string", "description": "why recovery failed"}}},
        "Progress": {"type": "object", "required": ["restored", "total"], "properties": {
            "restored": {"type": "integer"}, "total": {"type": "integer"}}}
    })
}

/// Orders as created, stored and listed.
fn order_schemas() -> Value {
    json!({
        "Stop": {"type": "object", "description": "An object (an array such as GeoJSON [lon, lat] is refused); in a request, an unknown field is refused with 400 naming it.", "required": ["lat", "lon"], "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180},
            "ready_ms": {"type": "integer", "format": "int64"},
            "due_ms": {"type": "integer", "format": "int64"},
            "service_s": {"type": "integer", "default": 60, "maximum": 86400}}},
        "NewOrder": {"type": "object", "additionalProperties": false, "description": "An unknown field is refused with 400 naming it.", "required": ["pickup", "dropoff"], "properties": {
            "id": {"type": "string"},
            "pickup": {"$ref": "#/components/schemas/Stop"},
            "dropoff": {"$ref": "#/components/schemas/Stop"},
            "size": {"type": "integer", "default": 1, "minimum": 1},
            "priority": {"type": "integer", "default": 0},
            "recipient_name": {"type": "string", "maxLength": 200},
            "recipient_phone": {"type": "string", "maxLength": 40, "pattern": "^[0-9 +()./-]*[0-9][0-9 +()./-]*$"},
            "address": {"type": "string", "maxLength": 500, "description": "The address as text (bytes of UTF-8; no control characters but line breaks and tabs)"},
            "notes": {"type": "string", "maxLength": 2000}}},
        "StatusChange": {"type": "object", "required": ["status", "at_ms"], "properties": {
            "status": {"$ref": "#/components/schemas/OrderStatus"},
            "at_ms": {"type": "integer", "format": "int64"},
            "reason": {"type": "string"},
            "note": {"type": "string", "description": "The driver's stop_done note, on the entry that stop made"}}},
        "OrderStatus": {"type": "string", "enum": ["pending", "assigned", "picked_up", "delivered", "cancelled", "failed", "unassignable"]},
        "Order": {"type": "object", "required": ["id", "pickup", "dropoff", "size", "priority", "status", "created_ms", "history"], "properties": {
            "id": {"type": "string"},
            "pickup": {"$ref": "#/components/schemas/Stop"},
            "dropoff": {"$ref": "#/components/schemas/Stop"},
            "size": {"type": "integer"},
            "priority": {"type": "integer"},
            "status": {"$ref": "#/components/schemas/OrderStatus"},
            "driver_id": {"type": "string", "nullable": true},
            "pickup_eta_ms": {"type": "integer", "nullable": true},
            "dropoff_eta_ms": {"type": "integer", "nullable": true},
            "created_ms": {"type": "integer", "format": "int64"},
            "history": {"type": "array", "items": {"$ref": "#/components/schemas/StatusChange"}},
            "recipient_name": {"type": "string"},
            "recipient_phone": {"type": "string"},
            "address": {"type": "string"},
            "notes": {"type": "string"}}},
        "OrderList": {"type": "object", "required": ["orders"], "properties": {
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "next": {"type": "string"}}}
    })
}

/// Drivers, their routes and the nearest-driver answer.
fn driver_schemas() -> Value {
    json!({
        "RouteStop": {"type": "object", "properties": {
            "stop_id": {"type": "string"}, "order_id": {"type": "string"},
            "kind": {"type": "string", "enum": ["pickup", "dropoff"]},
            "lat": {"type": "number"}, "lon": {"type": "number"},
            "eta_ms": {"type": "integer"}, "ready_ms": {"type": "integer"}, "due_ms": {"type": "integer"},
            "path": {"type": "string", "description": "on roads: the leg's road path, encoded polyline, precision 5"}}},
        "Route": {"type": "object", "properties": {
            "version": {"type": "integer"},
            "stops": {"type": "array", "items": {"$ref": "#/components/schemas/RouteStop"}}}},
        "NewDriver": {"type": "object", "additionalProperties": false, "description": "An unknown field is refused with 400 naming it; the id `nearest` is reserved.", "required": ["id"], "properties": {
            "id": {"type": "string"}, "capacity": {"type": "integer", "default": 10}, "name": {"type": "string"}}},
        "Driver": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "capacity": {"type": "integer"}, "load": {"type": "integer"},
            "status": {"type": "string", "enum": ["available", "offline", "break"]},
            "lat": {"type": "number", "nullable": true}, "lon": {"type": "number", "nullable": true},
            "ts_ms": {"type": "integer", "nullable": true}, "updated_ms": {"type": "integer"},
            "connected": {"type": "integer"}, "route": {"$ref": "#/components/schemas/Route"},
            "token": {"type": "string", "description": "only in the answer to POST /v1/drivers"}}},
        "Nearby": {"type": "object", "properties": {"drivers": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "lat": {"type": "number"}, "lon": {"type": "number"},
            "distance_m": {"type": "number"}, "status": {"type": "string"}}}}}}
    })
}

fn stats_schemas() -> Value {
    json!({
        "Latency": {"type": "object", "required": ["count", "p50_ms", "p90_ms", "p99_ms", "max_ms"], "properties": {
            "count": {"type": "integer"}, "p50_ms": {"type": "number"}, "p90_ms": {"type": "number"},
            "p99_ms": {"type": "number"}, "max_ms": {"type": "number"}}},
        "Stats": {"type": "object", "required": ["ts_ms", "drivers", "orders", "assign_latency", "route_latency", "window_s"], "properties": {
            "ts_ms": {"type": "integer", "format": "int64"},
            "drivers": {"type": "object", "description": "registered drivers by status; on_route: available with stops", "properties": {
                "total": {"type": "integer"}, "available": {"type": "integer"}, "on_route": {"type": "integer"},
                "break": {"type": "integer"}, "offline": {"type": "integer"}}},
            "orders": {"type": "object", "description": "open orders by status now; delivered, cancelled, failed since the engine started", "properties": {
                "pending": {"type": "integer"}, "assigned": {"type": "integer"}, "picked_up": {"type": "integer"},
                "unassignable": {"type": "integer"}, "delivered": {"type": "integer"}, "cancelled": {"type": "integer"}, "failed": {"type": "integer"}}},
            "assign_latency": {"$ref": "#/components/schemas/Latency"},
            "route_latency": {"$ref": "#/components/schemas/Latency"},
            "window_s": {"type": "integer"}}}
    })
}

/// The console's files and the endpoints without a token.
fn public_paths() -> Value {
    json!({
        "/": {"get": {"security": [], "summary": "The web dispatch console (HTML; token from ?token= or the page's entry field)", "responses": {"200": {"description": "text/html"}}}},
        "/console.js": {"get": {"security": [], "summary": "The console's script", "responses": {"200": {"description": "text/javascript"}}}},
        "/console.css": {"get": {"security": [], "summary": "The console's style sheet", "responses": {"200": {"description": "text/css"}}}},
        "/console/{asset}": {"get": {"security": [], "summary": "The console's ES modules (shared.js, geo.js, conn.js, draw.js, panels.js, create.js, fleet.js, alerts.js, replay.js)",
            "parameters": [{"name": "asset", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file, with its content type"}, "404": error_response("not_found: no such file")}}},
        "/driver": {"get": {"security": [], "summary": "The driver web app (installable PWA; token from ?token= or its sign-in form)", "responses": {"200": {"description": "text/html"}}}},
        "/driver/{asset}": {"get": {"security": [], "summary": "The driver app's files: app.js and its modules, qr.js, app.css, manifest.webmanifest, sw.js, icon.svg",
            "parameters": [{"name": "asset", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file, with its content type"}, "404": error_response("not_found: no such file")}}},
        "/healthz": {"get": {"security": [], "summary": "Liveness: the process serves (its store verified), recovering or not", "responses": {"200": {"description": "{\"status\":\"ok\"}"}}}},
        "/readyz": {"get": {"security": [], "summary": "Readiness: 200 once recovery after a start has restored every driver and open order; 503 (Retry-After) until then, when the API refuses with 503 overloaded", "responses": {
            "200": ok_json("{\"status\":\"ready\",…}", "Readiness"),
            "503": ok_json("{\"status\":\"recovering\" or \"failed\",…} (Retry-After header)", "Readiness")}}},
        "/metrics": {"get": {"security": [], "summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
        "/openapi.json": {"get": {"security": [], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3 JSON"}}}}
    })
}

fn driver_paths() -> Value {
    json!({
        "/v1/drivers": {"post": {"summary": "Register a driver (console)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewDriver"}}}},
            "responses": with_errors(json!({"201": ok_json("registered (with token)", "Driver"), "200": ok_json("exists with the same fields", "Driver"), "409": error_response("exists with other fields"), "413": error_response("body too large")}))}},
        "/v1/drivers/nearest": {"get": {"summary": "k nearest drivers (console)", "parameters": [
                {"name": "lat", "in": "query", "required": true, "schema": {"type": "number"}},
                {"name": "lon", "in": "query", "required": true, "schema": {"type": "number"}},
                {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["available", "offline", "break", "any"], "default": "available"}},
                {"name": "radius_m", "in": "query", "schema": {"type": "number"}}],
            "responses": with_errors(json!({"200": ok_json("nearest first", "Nearby")}))}},
        "/v1/drivers/{id}": {"get": {"summary": "One driver (console or that driver)", "parameters": [id_param()],
            "responses": with_errors(json!({"200": ok_json("the driver", "Driver"), "404": error_response("not_found")}))}}
    })
}

/// Phone trackers and trails (docs/protocol.md "Phone trackers", "Trails").
fn tracker_paths() -> Value {
    let num = |name: &str, description: &str| json!({"name": name, "in": "query", "schema": {"type": "number"}, "description": description});
    let osmand = json!({
        "summary": "A phone tracker's position: the OsmAnd protocol (query or form fields) or, with Content-Type application/json, the Traccar Client body. No Authorization header: the device id is a driver token. Also served on every path of trackers.listen",
        "security": [],
        "parameters": [
            {"name": "id", "in": "query", "schema": {"type": "string"}, "description": "the driver token (alias deviceid; device_id in JSON)"},
            num("lat", "degrees"), num("lon", "degrees"),
            {"name": "location", "in": "query", "schema": {"type": "string"}, "description": "lat,lon instead of lat and lon"},
            {"name": "timestamp", "in": "query", "schema": {"type": "string"}, "description": "seconds, milliseconds or ISO 8601; absent: now"},
            num("speed", "knots"), num("bearing", "degrees (alias heading)"), num("altitude", "metres"), num("accuracy", "metres"), num("batt", "percent")],
        "requestBody": {"required": false, "content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object", "required": ["device_id", "location"], "properties": {
                "device_id": {"type": "string"}, "location": {"type": "object"}}}}}},
        "responses": with_errors(json!({"200": {"description": "applied (or older than the driver's position: kept out, never moving it back)"}, "404": error_response("the token's driver is not registered")}))
    });
    let mut post = osmand.clone();
    post["summary"] = json!("The same, posted");
    json!({
        "/v1/trackers/osmand": {"get": osmand, "post": post},
        "/v1/drivers/{id}/trail": {"get": {"summary": "Where a driver went (downsampled history), oldest first (console or that driver)",
            "parameters": [id_param(),
                {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "ms since the epoch or ISO 8601; default to - 24 h"},
                {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "ms since the epoch or ISO 8601; default now"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10000}},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "geojson"]}, "description": "or Accept: application/geo+json"}],
            "responses": with_errors(json!({
                "200": {"description": "points, or a GeoJSON Feature whose geometry is a LineString ([lon, lat]; null under two points) with properties.times_ms; next_from_ms when the limit cut it short",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "driver_id": {"type": "string"}, "from_ms": {"type": "integer"}, "to_ms": {"type": "integer"}, "next_from_ms": {"type": "integer"},
                        "points": {"type": "array", "items": {"type": "object", "properties": {"ts_ms": {"type": "integer"}, "lat": {"type": "number"}, "lon": {"type": "number"}}}}}}},
                        "application/geo+json": {"schema": {"type": "object"}}}},
                "404": error_response("not_found")}))}}
    })
}

fn order_paths() -> Value {
    json!({
        "/v1/orders": {
            "post": {"summary": "Create an order (durable before the answer; idempotent by id)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewOrder"}}}},
                "responses": with_errors(json!({"201": ok_json("created (pending)", "Order"), "200": ok_json("the same request again", "Order"), "409": error_response("id exists with other fields"), "413": error_response("body too large")}))},
            "get": {"summary": "List orders in id order", "parameters": [
                    {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/OrderStatus"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    {"name": "after", "in": "query", "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": ok_json("a page; `next` when more may follow", "OrderList")}))}},
        "/v1/orders/{id}": {"get": {"summary": "One order with ETAs and history", "parameters": [id_param()],
            "responses": with_errors(json!({"200": ok_json("the order", "Order"), "404": error_response("not_found")}))}},
        "/v1/orders/{id}/proof": {
            "put": {"summary": "Store a proof-of-delivery photo (the order's driver, or a dispatcher console token); replaces an earlier one; durable before the answer",
                "parameters": [id_param()],
                "requestBody": {"required": true, "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}, "image/webp": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": with_errors(json!({"201": {"description": "stored: {order_id, content_type, bytes, stored_ms}"}, "200": {"description": "replaced an earlier proof"},
                    "404": error_response("not_found: no such order"), "413": error_response("too_large: over limits.max_proof_bytes"),
                    "415": error_response("unsupported_media_type: not a JPEG, PNG or WebP image")}))},
            "get": {"summary": "The order's proof-of-delivery photo (console token, or the order's driver)", "parameters": [id_param()],
                "responses": with_errors(json!({"200": {"description": "the image (image/jpeg, image/png or image/webp)"}, "404": error_response("not_found: no such order, or no proof")}))}},
        "/v1/orders/{id}/cancel": {"post": {"summary": "Cancel an order not picked up yet", "parameters": [id_param()],
            "responses": with_errors(json!({"200": ok_json("cancelled", "Order"), "404": error_response("not_found"), "409": error_response("picked up or finished")}))}},
        "/v1/route": {"get": {"summary": "Fastest road route between two points ([roads]): duration_s, distance_m, geometry (encoded polyline, precision 5) unless geometry=false",
            "parameters": [
                {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "example": "60.1660,24.9400"}},
                {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "example": "60.1770,24.9500"}},
                {"name": "geometry", "in": "query", "schema": {"type": "boolean", "default": true}}],
            "responses": with_errors(json!({"200": {"description": "{duration_s, distance_m, geometry, geometry_precision}"},
                "400": error_response("invalid_argument (bad point, or no road within roads.snap_radius_m), failed_precondition (no [roads] configured)"),
                "404": error_response("not_found: no road path joins the points")}))}},
        "/v1/matrix": {"post": {"summary": "Road durations and distances between every pair of points ([roads]); null where a point is off the network",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["points"],
                "properties": {"points": {"type": "array", "items": {"type": "object", "required": ["lat", "lon"], "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}}}}}}},
            "responses": with_errors(json!({"200": {"description": "{durations_s: [[s|null]], distances_m: [[m|null]]}, row = from, column = to"},
                "400": error_response("invalid_argument, failed_precondition (no [roads] configured)"),
                "413": error_response("too_large: more than roads.max_matrix_points points")}))}}
    })
}

fn console_and_socket_paths() -> Value {
    json!({
        "/v1/admin/backup": {"post": {"summary": "Consistent online copy of the store into a new or empty directory on the engine's host (console token of role admin)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["out"],
                "properties": {"out": {"type": "string", "description": "absolute path"}}}}}},
            "responses": with_errors(json!({
                "200": {"description": "written and verified: record counts of the copy", "content": {"application/json": {"schema": {"type": "object",
                    "properties": {"out": {"type": "string"}, "drivers": {"type": "integer"}, "orders": {"type": "integer"}, "open_orders": {"type": "integer"},
                        "routes": {"type": "integer"}, "events": {"type": "integer"}, "driver_states": {"type": "integer"}, "took_ms": {"type": "integer"}}}}}},
                "500": error_response("internal: the directory is not empty or cannot be written")}))}},
        "/v1/stats": {"get": {"summary": "Fleet and order counts, assignment latency percentiles over the stats window (console)",
            "responses": with_errors(json!({"200": ok_json("live totals", "Stats")}))}},
        "/ws/driver": {"get": {"summary": "Driver WebSocket (upgrade; driver token)", "responses": with_errors(json!({"101": {"description": "switching protocols; messages in docs/protocol.md"}}))}},
        "/ws/console": {"get": {"summary": "Console WebSocket (upgrade; console token)", "responses": with_errors(json!({"101": {"description": "switching protocols; messages in docs/protocol.md"}}))}}
    })
}

/// Token management and the audit log (console role admin).
fn admin_schemas() -> Value {
    json!({
        "TokenRow": {"type": "object", "required": ["id"], "description": "A registry row; v1 ids (legacy-console, legacy-driver:<id>) appear once revoked, without the issue fields.", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "role": {"type": "string", "enum": ["viewer", "intake", "dispatcher", "admin"]},
            "driver_id": {"type": "string"}, "issued_ms": {"type": "integer"}, "expires_ms": {"type": "integer"},
            "by": {"type": "string", "description": "the issuing token id, cli:<user> or engine"},
            "revoked_ms": {"type": "integer"}}},
        "IssueToken": {"type": "object", "required": ["name"], "description": "Exactly one of role and driver_id.", "properties": {
            "name": {"type": "string"}, "role": {"type": "string", "enum": ["viewer", "intake", "dispatcher", "admin"]},
            "driver_id": {"type": "string"}, "ttl_s": {"type": "integer", "minimum": 1}}},
        "IssuedToken": {"type": "object", "required": ["token", "id", "name", "issued_ms"], "properties": {
            "token": {"type": "string", "description": "shown once; never stored"}, "id": {"type": "string"}, "name": {"type": "string"},
            "role": {"type": "string"}, "driver_id": {"type": "string"}, "issued_ms": {"type": "integer"}, "expires_ms": {"type": "integer", "nullable": true}}},
        "AuditRecord": {"type": "object", "required": ["at_ms", "token_id", "action", "target"], "properties": {
            "at_ms": {"type": "integer"}, "token_id": {"type": "string"},
            "action": {"type": "string", "enum": ["order.create", "order.cancel", "driver.register", "token.issue", "token.revoke"]},
            "target": {"type": "string"}}}
    })
}

fn admin_paths() -> Value {
    let list = |item: &str, key: &str| json!({"type": "object", "properties": {key: {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}}});
    json!({
        "/v1/tokens": {
            "get": {"summary": "Issued and revoked tokens (admin)", "responses": with_errors(json!({"200": {"description": "the registry", "content": {"application/json": {"schema": list("TokenRow", "tokens")}}}}))},
            "post": {"summary": "Issue a console or driver token (admin)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IssueToken"}}}},
                "responses": with_errors(json!({"201": ok_json("the token, shown once", "IssuedToken")}))}},
        "/v1/tokens/{id}/revoke": {"post": {"summary": "Revoke a token: its requests get 401, its open sockets close with 1008 (admin)",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": with_errors(json!({"200": {"description": "revoked"}, "404": error_response("not_found: no such token id")}))}},
        "/v1/audit": {"get": {"summary": "The audit log's last records, oldest first (admin)",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                           {"name": "token_id", "in": "query", "schema": {"type": "string"}}],
            "responses": with_errors(json!({"200": {"description": "records", "content": {"application/json": {"schema": list("AuditRecord", "records")}}}}))}}
    })
}
