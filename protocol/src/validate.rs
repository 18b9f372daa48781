//! Checks every field a client can send, returning typed errors that the engine turns
//! into `invalid_argument` answers. Pure functions: the same rules serve HTTP bodies and
//! WebSocket messages.

use crate::message::{ClientFrame, ConsoleMessage, DriverMessage, NewOrder, OrderDetails, Stop};
use thiserror::Error;

/// Longest id the contract allows.
pub const MAX_ID_LEN: usize = 64;
/// Longest stop id: the server makes them as `p:<order id>` / `d:<order id>`.
pub const MAX_STOP_ID_LEN: usize = MAX_ID_LEN + 2;
/// Longest free-text field (driver names, stop notes).
pub const MAX_TEXT_LEN: usize = 1024;
/// Longest recipient name of an order (bytes of UTF-8).
pub const MAX_RECIPIENT_NAME_LEN: usize = 200;
/// Longest recipient phone number: digits, spaces and `+ - ( ) . /` only.
pub const MAX_PHONE_LEN: usize = 40;
/// Longest address text of an order.
pub const MAX_ADDRESS_LEN: usize = 500;
/// Longest notes of an order.
pub const MAX_NOTES_LEN: usize = 2000;
/// Largest order size or driver capacity accepted (units are the fleet's own).
pub const MAX_SIZE: u32 = 1_000_000;
/// Longest service time at one stop (one day).
pub const MAX_SERVICE_S: u32 = 86_400;

/// Why a client value was rejected: the field path and a human reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn within(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// Values that can check themselves before the engine acts on them.
pub trait Validate {
    fn validate(&self) -> Result<(), ValidationError>;
}

/// Ids are 1..=64 characters of `[A-Za-z0-9_.:-]`.
pub fn validate_id(field: &str, id: &str) -> Result<(), ValidationError> {
    validate_id_up_to(field, id, MAX_ID_LEN)
}

fn validate_id_up_to(field: &str, id: &str, max: usize) -> Result<(), ValidationError> {
    if id.is_empty() || id.len() > max {
        return Err(ValidationError::new(
            field,
            format!("must be 1..={max} characters"),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(ValidationError::new(
            field,
            format!("character {c:?} is not allowed (use A-Z a-z 0-9 _ . : -)"),
        ));
    }
    Ok(())
}

/// WGS84 degrees: finite, |lat| ≤ 90, |lon| ≤ 180.
pub fn validate_coords(lat: f64, lon: f64) -> Result<(), ValidationError> {
    if !lat.is_finite() || lat.abs() > 90.0 {
        return Err(ValidationError::new(
            "lat",
            "must be a finite number in [-90, 90]",
        ));
    }
    if !lon.is_finite() || lon.abs() > 180.0 {
        return Err(ValidationError::new(
            "lon",
            "must be a finite number in [-180, 180]",
        ));
    }
    Ok(())
}

/// `[min_lon, min_lat, max_lon, max_lat]` with min ≤ max.
pub fn validate_bbox(bbox: &[f64; 4]) -> Result<(), ValidationError> {
    let [min_lon, min_lat, max_lon, max_lat] = *bbox;
    validate_coords(min_lat, min_lon).map_err(|e| e.within("bbox"))?;
    validate_coords(max_lat, max_lon).map_err(|e| e.within("bbox"))?;
    if min_lon > max_lon || min_lat > max_lat {
        return Err(ValidationError::new("bbox", "min must not exceed max"));
    }
    Ok(())
}

fn validate_text(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(ValidationError::new(
            field,
            format!("longer than {MAX_TEXT_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Free text of at most `max` bytes with no control characters but line breaks and tabs.
fn validate_text_up_to(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.len() > max {
        return Err(ValidationError::new(
            field,
            format!("longer than {max} bytes"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(
            field,
            "must not hold control characters",
        ));
    }
    Ok(())
}

impl Validate for OrderDetails {
    fn validate(&self) -> Result<(), ValidationError> {
        let text = |field: &str, v: &Option<String>, max: usize| {
            v.as_deref()
                .map_or(Ok(()), |t| validate_text_up_to(field, t, max))
        };
        text(
            "recipient_name",
            &self.recipient_name,
            MAX_RECIPIENT_NAME_LEN,
        )?;
        text("address", &self.address, MAX_ADDRESS_LEN)?;
        text("notes", &self.notes, MAX_NOTES_LEN)?;
        if let Some(phone) = &self.recipient_phone {
            if phone.is_empty() || phone.len() > MAX_PHONE_LEN {
                return Err(ValidationError::new(
                    "recipient_phone",
                    format!("must be 1..={MAX_PHONE_LEN} characters"),
                ));
            }
            if !phone.chars().any(|c| c.is_ascii_digit())
                || phone.chars().any(|c| {
                    !(c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '/'))
                })
            {
                return Err(ValidationError::new(
                    "recipient_phone",
                    "must be digits with optional spaces and + - ( ) . /",
                ));
            }
        }
        Ok(())
    }
}

/// Capacity or order size: 1..=MAX_SIZE.
pub fn validate_size(field: &str, size: u32) -> Result<(), ValidationError> {
    if size == 0 || size > MAX_SIZE {
        return Err(ValidationError::new(
            field,
            format!("must be 1..={MAX_SIZE}"),
        ));
    }
    Ok(())
}

impl Validate for Stop {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_coords(self.lat, self.lon)?;
        if let (Some(ready), Some(due)) = (self.ready_ms, self.due_ms) {
            if due < ready {
                return Err(ValidationError::new("due_ms", "is before ready_ms"));
            }
        }
        if self.service_s > MAX_SERVICE_S {
            return Err(ValidationError::new(
                "service_s",
                format!("must be at most {MAX_SERVICE_S}"),
            ));
        }
        Ok(())
    }
}

impl Validate for NewOrder {
    fn validate(&self) -> Result<(), ValidationError> {
        if let Some(id) = &self.id {
            validate_id("id", id)?;
        }
        self.pickup.validate().map_err(|e| e.within("pickup"))?;
        self.dropoff.validate().map_err(|e| e.within("dropoff"))?;
        validate_size("size", self.size)?;
        if let (Some(pickup_ready), Some(drop_due)) = (self.pickup.ready_ms, self.dropoff.due_ms) {
            if drop_due < pickup_ready {
                return Err(ValidationError::new(
                    "dropoff.due_ms",
                    "is before pickup.ready_ms",
                ));
            }
        }
        self.details.validate()
    }
}

impl Validate for DriverMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::Hello { .. } | Self::Status { .. } => Ok(()),
            Self::Position {
                lat,
                lon,
                speed_mps,
                heading_deg,
                ..
            } => {
                validate_coords(*lat, *lon)?;
                if let Some(s) = speed_mps {
                    if !s.is_finite() || *s < 0.0 {
                        return Err(ValidationError::new(
                            "speed_mps",
                            "must be a finite number ≥ 0",
                        ));
                    }
                }
                if let Some(h) = heading_deg {
                    if !h.is_finite() || !(0.0..=360.0).contains(h) {
                        return Err(ValidationError::new(
                            "heading_deg",
                            "must be a finite number in [0, 360]",
                        ));
                    }
                }
                Ok(())
            }
            Self::StopDone { stop_id, note, .. } => {
                validate_id_up_to("stop_id", stop_id, MAX_STOP_ID_LEN)?;
                note.as_deref().map_or(Ok(()), |n| validate_text("note", n))
            }
        }
    }
}

impl Validate for ConsoleMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::Subscribe { bbox } => bbox.as_ref().map_or(Ok(()), validate_bbox),
            Self::CreateOrder { order } => order.validate().map_err(|e| e.within("order")),
            Self::CancelOrder { id } => validate_id("id", id),
        }
    }
}

impl<M: Validate> Validate for ClientFrame<M> {
    fn validate(&self) -> Result<(), ValidationError> {
        self.msg.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("id", "driver-1.a:b_C").is_ok());
        assert!(validate_id("id", "").is_err());
        assert!(validate_id("id", &"x".repeat(65)).is_err());
        assert!(validate_id("id", &"x".repeat(64)).is_ok());
        assert!(validate_id("id", "a b").is_err());
        assert!(validate_id("id", "é").is_err());
    }

    #[test]
    fn coords() {
        assert!(validate_coords(60.17, 24.94).is_ok());
        assert!(validate_coords(90.0, -180.0).is_ok());
        assert!(validate_coords(90.0001, 0.0).is_err());
        assert!(validate_coords(0.0, 180.5).is_err());
        assert!(validate_coords(f64::NAN, 0.0).is_err());
        assert!(validate_coords(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn orders() {
        let stop = |ready, due| Stop {
            lat: 1.0,
            lon: 1.0,
            ready_ms: ready,
            due_ms: due,
            service_s: 60,
        };
        let mut o = NewOrder {
            id: None,
            pickup: stop(Some(10), Some(20)),
            dropoff: stop(None, Some(30)),
            size: 1,
            priority: 0,
            details: OrderDetails::default(),
        };
        assert!(o.validate().is_ok());
        o.pickup = stop(Some(20), Some(10));
        assert_eq!(o.validate().unwrap_err().field, "pickup.due_ms");
        o.pickup = stop(Some(40), None);
        assert_eq!(o.validate().unwrap_err().field, "dropoff.due_ms");
        o.pickup = stop(None, None);
        o.size = 0;
        assert_eq!(o.validate().unwrap_err().field, "size");
    }

    #[test]
    fn order_details() {
        let ok = OrderDetails {
            recipient_name: Some("Aino Virtanen".into()),
            recipient_phone: Some("+358 (40) 123-4567".into()),
            address: Some("Mannerheimintie 1\n00100 Helsinki".into()),
            notes: Some("ring twice".into()),
        };
        assert!(ok.validate().is_ok());
        assert!(OrderDetails::default().validate().is_ok());
        let field = |d: OrderDetails| d.validate().unwrap_err().field;
        let with = |f: &dyn Fn(&mut OrderDetails)| {
            let mut d = ok.clone();
            f(&mut d);
            d
        };
        assert_eq!(
            field(with(&|d| d.recipient_name = Some("x".repeat(201)))),
            "recipient_name"
        );
        assert_eq!(
            field(with(&|d| d.address = Some("a\u{0}b".into()))),
            "address"
        );
        assert_eq!(field(with(&|d| d.notes = Some("n".repeat(2001)))), "notes");
        for bad in [
            "",
            "call me",
            "12345678901234567890123456789012345678901",
            "--",
        ] {
            assert_eq!(
                field(with(&|d| d.recipient_phone = Some(bad.into()))),
                "recipient_phone",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bbox() {
        assert!(validate_bbox(&[24.0, 60.0, 25.0, 61.0]).is_ok());
        assert!(validate_bbox(&[25.0, 60.0, 24.0, 61.0]).is_err());
        assert!(validate_bbox(&[24.0, 60.0, 25.0, 91.0]).is_err());
    }
}
