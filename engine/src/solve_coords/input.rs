//! The coordinates instance format (docs/solve.md): JSON read into `serde_json::Value`
//! first, then each vehicle, order and stop on its own, so an error names the field
//! it is about (`orders[3].pickup.lat: ...`); then validated into an [`Instance`].

use super::CoordsError;
use dispatch_protocol::validate::validate_coords;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// Default average speed of the great-circle model, km/h (as `Haversine::default()`).
pub const DEFAULT_SPEED_KMH: f64 = 25.0;
/// Default road distance / great-circle distance (as `Haversine::default()`).
pub const DEFAULT_DETOUR_FACTOR: f64 = 1.3;

/// A WGS84 position in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VehicleSpec {
    pub id: String,
    pub start: Place,
    /// `None`: an open route, ending at its last stop.
    pub end: Option<Place>,
    pub capacity: i32,
    /// Seconds from the instance's time zero.
    pub shift_start: f64,
    /// Latest arrival at `end` (or the end of the last stop of an open route).
    pub shift_end: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StopSpec {
    pub at: Place,
    /// Earliest start of service, seconds.
    pub ready: f64,
    /// Latest start of service, seconds (`∞` when not given).
    pub due: f64,
    pub service: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderSpec {
    pub id: String,
    pub size: i32,
    /// `None`: its goods are on board `vehicle` when its shift starts.
    pub pickup: Option<StopSpec>,
    pub dropoff: StopSpec,
    /// Only this vehicle (an index into [`Instance::vehicles`]) may serve it; always
    /// set for an order without a pickup.
    pub vehicle: Option<usize>,
}

/// A validated instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub name: String,
    pub speed_kmh: f64,
    pub detour_factor: f64,
    pub vehicles: Vec<VehicleSpec>,
    pub orders: Vec<OrderSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceIn {
    name: Option<String>,
    speed_kmh: Option<f64>,
    detour_factor: Option<f64>,
    vehicles: Vec<Value>,
    orders: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VehicleIn {
    id: String,
    start: Value,
    end: Option<Value>,
    capacity: i64,
    shift_start: Option<f64>,
    shift_end: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointIn {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderIn {
    id: String,
    size: Option<i64>,
    pickup: Option<Value>,
    dropoff: Value,
    vehicle: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopIn {
    lat: f64,
    lon: f64,
    ready: Option<f64>,
    due: Option<f64>,
    service: Option<f64>,
}

fn field(field: &str, msg: impl Into<String>) -> CoordsError {
    CoordsError::Field {
        field: field.to_string(),
        msg: msg.into(),
    }
}

fn decode<T: DeserializeOwned>(v: Value, at: &str) -> Result<T, CoordsError> {
    serde_json::from_value(v).map_err(|e| field(at, e.to_string()))
}

/// Parses and validates an instance; `default_name` names it when `name` is absent.
pub fn parse(text: &str, default_name: &str) -> Result<Instance, CoordsError> {
    let top: InstanceIn = serde_json::from_str(text).map_err(|e| {
        let kind = if e.is_data() {
            "not a coordinates instance"
        } else {
            "invalid JSON"
        };
        CoordsError::Json(format!("{kind}: {e}"))
    })?;
    let speed_kmh = top.speed_kmh.unwrap_or(DEFAULT_SPEED_KMH);
    if !(speed_kmh.is_finite() && speed_kmh > 0.0) {
        return Err(field(
            "speed_kmh",
            format!("{speed_kmh} is not a speed above 0"),
        ));
    }
    let detour_factor = top.detour_factor.unwrap_or(DEFAULT_DETOUR_FACTOR);
    if !(detour_factor.is_finite() && detour_factor >= 1.0) {
        return Err(field(
            "detour_factor",
            format!("{detour_factor} is not a factor of at least 1"),
        ));
    }
    let vehicles = vehicles(top.vehicles)?;
    let orders = orders(top.orders, &vehicles)?;
    Ok(Instance {
        name: top.name.unwrap_or_else(|| default_name.to_string()),
        speed_kmh,
        detour_factor,
        vehicles,
        orders,
    })
}

/// Checks a position with the contract's own rule (`validate_coords`), naming the field.
pub fn place(at: &str, lat: f64, lon: f64) -> Result<Place, CoordsError> {
    validate_coords(lat, lon).map_err(|e| {
        let value = if e.field == "lat" { lat } else { lon };
        field(
            &format!("{at}.{}", e.field),
            format!("{value} {}", e.reason),
        )
    })?;
    Ok(Place { lat, lon })
}

/// A time in seconds: finite and not negative; `default` when absent.
pub fn seconds(at: &str, v: Option<f64>, default: f64) -> Result<f64, CoordsError> {
    match v {
        None => Ok(default),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(s),
        Some(s) => Err(field(at, format!("{s} is not a number of seconds >= 0"))),
    }
}

fn point(v: Value, at: &str) -> Result<Place, CoordsError> {
    let p: PointIn = decode(v, at)?;
    place(at, p.lat, p.lon)
}

fn id(at: &str, id: String, seen: &mut HashSet<String>) -> Result<String, CoordsError> {
    if id.trim().is_empty() {
        return Err(field(&format!("{at}.id"), "must not be empty"));
    }
    if !seen.insert(id.clone()) {
        return Err(field(&format!("{at}.id"), format!("duplicate id {id:?}")));
    }
    Ok(id)
}

fn vehicles(list: Vec<Value>) -> Result<Vec<VehicleSpec>, CoordsError> {
    if list.is_empty() {
        return Err(field("vehicles", "no vehicles: give at least one"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (k, v) in list.into_iter().enumerate() {
        let at = format!("vehicles[{k}]");
        let raw: VehicleIn = decode(v, &at)?;
        let capacity = i32::try_from(raw.capacity)
            .ok()
            .filter(|c| *c >= 0)
            .ok_or_else(|| {
                field(
                    &format!("{at}.capacity"),
                    format!("{} is not a capacity in 0..=2^31-1", raw.capacity),
                )
            })?;
        let shift_start = seconds(&format!("{at}.shift_start"), raw.shift_start, 0.0)?;
        let shift_end = seconds(&format!("{at}.shift_end"), raw.shift_end, f64::INFINITY)?;
        if shift_end < shift_start {
            return Err(field(
                &format!("{at}.shift_end"),
                format!("{shift_end} is before shift_start {shift_start}"),
            ));
        }
        out.push(VehicleSpec {
            id: id(&at, raw.id, &mut seen)?,
            start: point(raw.start, &format!("{at}.start"))?,
            end: raw
                .end
                .map(|e| point(e, &format!("{at}.end")))
                .transpose()?,
            capacity,
            shift_start,
            shift_end,
        });
    }
    Ok(out)
}

fn stop(v: Value, at: &str) -> Result<StopSpec, CoordsError> {
    let s: StopIn = decode(v, at)?;
    let ready = seconds(&format!("{at}.ready"), s.ready, 0.0)?;
    let due = seconds(&format!("{at}.due"), s.due, f64::INFINITY)?;
    if due < ready {
        return Err(field(
            &format!("{at}.due"),
            format!("{due} is before ready {ready}"),
        ));
    }
    Ok(StopSpec {
        at: place(at, s.lat, s.lon)?,
        ready,
        due,
        service: seconds(&format!("{at}.service"), s.service, 0.0)?,
    })
}

fn orders(list: Vec<Value>, vehicles: &[VehicleSpec]) -> Result<Vec<OrderSpec>, CoordsError> {
    let largest = vehicles.iter().map(|v| v.capacity).max().unwrap_or(0);
    let mut seen = HashSet::new();
    let mut on_board = vec![0i64; vehicles.len()];
    let mut out = Vec::with_capacity(list.len());
    for (k, v) in list.into_iter().enumerate() {
        let at = format!("orders[{k}]");
        let raw: OrderIn = decode(v, &at)?;
        let vehicle = order_vehicle(&at, raw.vehicle.as_deref(), raw.pickup.is_none(), vehicles)?;
        let size = raw.size.unwrap_or(1);
        let (cap, limit) = match vehicle {
            Some(v) => {
                let c = vehicles[v].capacity;
                (c, format!("vehicle {:?}'s capacity ({c})", vehicles[v].id))
            }
            None => (
                largest,
                format!("every vehicle's capacity (largest {largest})"),
            ),
        };
        if size < 0 {
            return Err(field(&format!("{at}.size"), format!("{size} is negative")));
        }
        if size > i64::from(cap) {
            return Err(field(
                &format!("{at}.size"),
                format!("{size} is above {limit}"),
            ));
        }
        if let (None, Some(v)) = (&raw.pickup, vehicle) {
            on_board[v] += size;
            if on_board[v] > i64::from(cap) {
                return Err(field(
                    &format!("{at}.size"),
                    format!(
                        "the orders without a pickup put {} on board {:?} at its start, \
                         above its capacity {cap}",
                        on_board[v], vehicles[v].id
                    ),
                ));
            }
        }
        out.push(OrderSpec {
            id: id(&at, raw.id, &mut seen)?,
            size: size as i32,
            pickup: raw
                .pickup
                .map(|p| stop(p, &format!("{at}.pickup")))
                .transpose()?,
            dropoff: stop(raw.dropoff, &format!("{at}.dropoff"))?,
            vehicle,
        });
    }
    Ok(out)
}

/// The vehicle an order names (its index), required when it has no pickup: its goods
/// are then on board that vehicle from the start of its shift.
fn order_vehicle(
    at: &str,
    named: Option<&str>,
    no_pickup: bool,
    vehicles: &[VehicleSpec],
) -> Result<Option<usize>, CoordsError> {
    let at = format!("{at}.vehicle");
    match named {
        None if no_pickup => Err(field(
            &at,
            "an order without a pickup names the vehicle whose load it is \
             (its goods are on board from the start of the shift)",
        )),
        None => Ok(None),
        Some(id) => match vehicles.iter().position(|v| v.id == id) {
            Some(v) => Ok(Some(v)),
            None => Err(field(&at, format!("no vehicle has id {id:?}"))),
        },
    }
}
