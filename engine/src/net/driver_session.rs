//! `/ws/driver`: one driver app's socket. `hello` attaches it to the driver actor (and
//! answers `welcome` with the route); positions go to the actor's coalescing slot;
//! status and stop completions are awaited messages. Messages from the actor (route
//! pushes) arrive on a bounded outbox.

use super::ws::{Conn, Incoming};
use crate::actors::driver::{Attach, Detach, PositionReport, SetStatus, StopDone};
use crate::actors::DriverHandle;
use crate::app::App;
use crate::auth::{Claims, Principal, Refusal};
use crate::telemetry;
use dispatch_protocol::{DriverMessage, ErrorCode, ServerMessage};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Who may open the socket: a driver token whose driver exists (and matches
/// `?driver_id=` when given).
pub fn authorize(
    app: &App,
    who: Result<Claims, Refusal>,
    driver_id_param: Option<&str>,
) -> Result<DriverHandle, (ErrorCode, String)> {
    let claims = who.map_err(|why| (ErrorCode::Unauthenticated, why.message().to_string()))?;
    let id = match claims.principal {
        Principal::Console(_) => {
            return Err((
                ErrorCode::PermissionDenied,
                "/ws/driver needs a driver token".into(),
            ))
        }
        Principal::Driver(id) => id,
    };
    if driver_id_param.is_some_and(|p| p != id) {
        return Err((
            ErrorCode::PermissionDenied,
            "this token belongs to another driver".into(),
        ));
    }
    app.drivers.get(&id).ok_or_else(|| {
        (
            ErrorCode::NotFound,
            format!("driver {id} is not registered"),
        )
    })
}

pub async fn run(app: Arc<App>, mut conn: Conn, auth: Result<DriverHandle, (ErrorCode, String)>) {
    let driver = match auth {
        Ok(d) => d,
        Err((code, message)) => {
            conn.fail(code, &message, CloseCode::Policy).await;
            return;
        }
    };
    let mut session = Session {
        id: app.next_session_id(),
        app: app.clone(),
        driver,
        outbox: None,
    };
    let outbox_depth = metrics::gauge!(telemetry::QUEUE_DEPTH, "queue" => "session_outbox");
    let hello_timeout = std::time::Duration::from_millis(app.config.limits.ws_hello_timeout_ms);
    let hello_deadline = tokio::time::sleep(hello_timeout);
    tokio::pin!(hello_deadline);
    loop {
        tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => {
                conn.close(CloseCode::Away, "server shutting down").await;
                break;
            }
            // A socket that never says hello holds a connection slot and memory for
            // nothing.
            _ = &mut hello_deadline, if session.outbox.is_none() => {
                telemetry::limited("ws_hello");
                let why = format!("no hello within {} ms", hello_timeout.as_millis());
                conn.fail(ErrorCode::FailedPrecondition, &why, CloseCode::Policy).await;
                break;
            }
            pushed = recv_opt(&mut session.outbox) => match pushed {
                Some(msg) => {
                    outbox_depth.decrement(1.0);
                    if Box::pin(conn.send(*msg)).await.is_err() { break }
                }
                None => {
                    conn.fail(ErrorCode::Overloaded, "too slow to read its messages", CloseCode::Again).await;
                    break;
                }
            },
            incoming = conn.next() => match incoming {
                Incoming::Frame(encoding, bytes) => {
                    conn.encoding = encoding;
                    // Boxed: the handling of a frame (hello, stop_done, error answers)
                    // is a future of several KiB that an idle socket would otherwise
                    // hold inline for its whole life; one short-lived allocation per
                    // frame instead.
                    if Box::pin(session.handle(&mut conn, &bytes)).await.is_err() {
                        break;
                    }
                }
                other => {
                    conn.end(other).await;
                    break;
                }
            },
        }
    }
    if let Some(rx) = session.outbox.as_mut() {
        // What the socket never took leaves the gauge with it.
        rx.close();
        outbox_depth.decrement(rx.len() as f64);
        let _ = session
            .driver
            .addr
            .send(Detach {
                session_id: session.id,
            })
            .await;
    }
}

/// Waits on the outbox once attached; before `hello` there is nothing to wait for.
async fn recv_opt(
    outbox: &mut Option<mpsc::Receiver<Box<ServerMessage>>>,
) -> Option<Box<ServerMessage>> {
    match outbox {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

struct Session {
    id: u64,
    app: Arc<App>,
    driver: DriverHandle,
    /// Messages from the driver actor; `Some` once `hello` attached the socket.
    outbox: Option<mpsc::Receiver<Box<ServerMessage>>>,
}

type SendResult = Result<(), tokio_tungstenite::tungstenite::Error>;

impl Session {
    async fn handle(&mut self, conn: &mut Conn, bytes: &[u8]) -> SendResult {
        let max = self.app.config.limits.max_frame_bytes;
        let Some(frame) = conn.decode::<DriverMessage>(bytes, max).await? else {
            return Ok(());
        };
        let reference = frame.seq;
        if self.outbox.is_none() && !matches!(frame.msg, DriverMessage::Hello { .. }) {
            return conn
                .error(
                    ErrorCode::FailedPrecondition,
                    "send hello before any other message",
                    reference,
                )
                .await;
        }
        match frame.msg {
            DriverMessage::Hello { .. } => self.hello(conn).await,
            DriverMessage::Position {
                lat, lon, ts_ms, ..
            } => {
                if let Err(why) = self.app.serves(lat, lon) {
                    let message = format!("position is {why}");
                    return conn
                        .error(ErrorCode::OutOfServiceArea, message, reference)
                        .await;
                }
                self.driver
                    .offer_position(PositionReport { lat, lon, ts_ms });
                Ok(())
            }
            DriverMessage::Status { status } => {
                if self.driver.addr.send(SetStatus(status)).await.is_err() {
                    return conn
                        .error(ErrorCode::Internal, "driver actor unavailable", reference)
                        .await;
                }
                Ok(())
            }
            DriverMessage::StopDone {
                stop_id,
                outcome,
                ts_ms,
                note,
            } => {
                let done = StopDone {
                    stop_id: stop_id.clone(),
                    outcome,
                    ts_ms,
                    note,
                };
                match self.driver.addr.send(done).await {
                    // Sent only now: the actor answers once the change is durable.
                    Ok(Ok(())) => {
                        conn.send(ServerMessage::Ack {
                            reference,
                            stop_id: Some(stop_id),
                        })
                        .await
                    }
                    Ok(Err((code, message))) => conn.error(code, message, reference).await,
                    Err(_) => {
                        conn.error(ErrorCode::Internal, "driver actor unavailable", reference)
                            .await
                    }
                }
            }
        }
    }

    /// Attaches the socket to the driver actor (once) and answers `welcome`.
    async fn hello(&mut self, conn: &mut Conn) -> SendResult {
        let (tx, rx) = mpsc::channel(self.app.config.limits.session_outbox);
        let attach = Attach {
            session_id: self.id,
            outbox: tx,
        };
        let Ok(route) = self.driver.addr.send(attach).await else {
            return conn
                .error(ErrorCode::Internal, "driver actor unavailable", None)
                .await;
        };
        if let Some(mut old) = self.outbox.replace(rx) {
            // A second hello: the first outbox's leftovers leave the gauge.
            old.close();
            metrics::gauge!(telemetry::QUEUE_DEPTH, "queue" => "session_outbox")
                .decrement(old.len() as f64);
        }
        conn.send(ServerMessage::Welcome {
            driver_id: self.driver.id.to_string(),
            route,
        })
        .await
    }
}
