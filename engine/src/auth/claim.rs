//! The signed part of a token. Two formats are accepted:
//!
//! - v2 (issued now): `v2|<id>|<issued_ms>|<expires_ms or ->|c:<role>` for a console
//!   token, `...|d:<driver id>` for a driver token. The principal comes last because
//!   driver ids may contain `:`; no field may contain `|`.
//! - v1 (legacy, before token ids): `console` or `driver:<driver id>`. They never
//!   expire; they get fixed ids (`legacy-console`, `legacy-driver:<id>`) so they can be
//!   revoked like any other token. A v1 console token is an admin.
//!
//! The two cannot be confused: no v1 claim starts with `v2|`.

use super::role::Role;

/// Id of every v1 console token (they were all the same string).
pub const LEGACY_CONSOLE_ID: &str = "legacy-console";
/// Prefix of the id of a v1 driver token: `legacy-driver:<driver id>`.
pub const LEGACY_DRIVER_PREFIX: &str = "legacy-driver:";
/// Longest token id (generated ids are far shorter).
pub const MAX_ID_LEN: usize = 80;

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A dispatch console (a person or an order-intake system) with a role.
    Console(Role),
    /// Reports for and reads one driver only.
    Driver(String),
}

/// What a valid signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Names the token in the registry, the audit log and `dispatch token revoke`.
    pub id: String,
    pub principal: Principal,
    /// When it was issued (ms since the Unix epoch; 0 for v1 tokens).
    pub issued_ms: u64,
    /// Refused from this instant on; `None`: until revoked.
    pub expires_ms: Option<u64>,
}

impl Claims {
    /// The claims a v1 token stands for.
    pub fn legacy(principal: Principal) -> Self {
        let id = match &principal {
            Principal::Console(_) => LEGACY_CONSOLE_ID.to_string(),
            Principal::Driver(d) => format!("{LEGACY_DRIVER_PREFIX}{d}"),
        };
        Self {
            id,
            principal,
            issued_ms: 0,
            expires_ms: None,
        }
    }

    /// Whether the token is still within its lifetime at `now_ms`.
    pub fn live_at(&self, now_ms: u64) -> bool {
        self.expires_ms.is_none_or(|exp| now_ms < exp)
    }

    /// The v2 claim text.
    pub fn encode(&self) -> String {
        let exp = self
            .expires_ms
            .map_or_else(|| "-".to_string(), |e| e.to_string());
        let who = match &self.principal {
            Principal::Console(role) => format!("c:{role}"),
            Principal::Driver(id) => format!("d:{id}"),
        };
        format!("v2|{}|{}|{exp}|{who}", self.id, self.issued_ms)
    }

    /// Parses a v2 or v1 claim; `None` for anything else.
    pub fn decode(text: &str) -> Option<Claims> {
        let Some(rest) = text.strip_prefix("v2|") else {
            return decode_v1(text);
        };
        let mut fields = rest.splitn(4, '|');
        let id = fields.next()?;
        let issued_ms = fields.next()?.parse().ok()?;
        let expires_ms = match fields.next()? {
            "-" => None,
            e => Some(e.parse().ok()?),
        };
        let principal = match fields.next()?.split_once(':')? {
            ("c", role) => Principal::Console(Role::parse(role)?),
            ("d", driver) if valid_field(driver) => Principal::Driver(driver.to_string()),
            _ => return None,
        };
        valid_field(id).then(|| Claims {
            id: id.to_string(),
            principal,
            issued_ms,
            expires_ms,
        })
    }
}

fn decode_v1(text: &str) -> Option<Claims> {
    if text == "console" {
        return Some(Claims::legacy(Principal::Console(Role::Admin)));
    }
    let driver = text.strip_prefix("driver:")?;
    Some(Claims::legacy(Principal::Driver(driver.to_string())))
}

/// The v1 claim text of a principal (driver registration still answers v1 tokens).
pub fn encode_v1(principal: &Principal) -> String {
    match principal {
        Principal::Console(_) => "console".to_string(),
        Principal::Driver(id) => format!("driver:{id}"),
    }
}

/// A token id or driver id inside a claim: non-empty, bounded, no separator.
pub fn valid_field(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_LEN && !s.contains('|')
}

/// A fresh token id: `tok-` and 16 hex digits (64 random bits).
pub fn new_id() -> String {
    format!("tok-{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims(principal: Principal, expires_ms: Option<u64>) -> Claims {
        Claims {
            id: new_id(),
            principal,
            issued_ms: 1_764_000_000_000,
            expires_ms,
        }
    }

    #[test]
    fn v2_round_trips_and_v1_maps_to_fixed_ids() {
        let c = claims(Principal::Console(Role::Intake), Some(1_765_000_000_000));
        assert_eq!(Claims::decode(&c.encode()), Some(c));
        let d = claims(Principal::Driver("zone:a-1".into()), None);
        assert!(d.encode().ends_with("|-|d:zone:a-1"));
        assert_eq!(Claims::decode(&d.encode()), Some(d));
        let legacy = Claims::decode("console").unwrap();
        assert_eq!(legacy.id, LEGACY_CONSOLE_ID);
        assert_eq!(legacy.principal, Principal::Console(Role::Admin));
        let legacy = Claims::decode("driver:d1").unwrap();
        assert_eq!(legacy.id, "legacy-driver:d1");
        assert_eq!(legacy.expires_ms, None);
    }

    #[test]
    fn malformed_claims_are_refused() {
        for bad in [
            "",
            "v2|",
            "v2|id|1|-",
            "v2|id|x|-|c:admin",
            "v2|id|1|soon|c:admin",
            "v2|id|1|-|c:root",
            "v2|id|1|-|x:admin",
            "v2||1|-|c:admin",
            "v2|id|1|-|d:",
            "v2|id|1|-|d:a|b",
            "consoles",
            "drive:d1",
        ] {
            assert_eq!(Claims::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry_is_exclusive() {
        let c = claims(Principal::Console(Role::Viewer), Some(100));
        assert!(c.live_at(99));
        assert!(!c.live_at(100));
        assert!(claims(Principal::Console(Role::Viewer), None).live_at(u64::MAX));
    }

    proptest! {
        #[test]
        fn any_v2_claim_round_trips(
            id in "[A-Za-z0-9_.:-]{1,40}",
            driver in proptest::option::of("[A-Za-z0-9_.:-]{1,64}"),
            role in 0usize..4,
            issued_ms in any::<u64>(),
            expires_ms in proptest::option::of(any::<u64>()),
        ) {
            let principal = match driver {
                Some(d) => Principal::Driver(d),
                None => Principal::Console(Role::ALL[role]),
            };
            let c = Claims { id, principal, issued_ms, expires_ms };
            prop_assert_eq!(Claims::decode(&c.encode()), Some(c));
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in ".{0,120}") {
            let _ = Claims::decode(&text);
        }
    }
}
