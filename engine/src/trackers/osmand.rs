//! The OsmAnd protocol: `id`/`deviceid`, `lat` + `lon` or `location=lat,lon`,
//! `timestamp`, `speed` (knots), `bearing`/`heading`, `altitude`, `accuracy`, `batt`;
//! every other field (`hdop`, `cell`, `wifi`, `valid`, custom ones) is accepted and
//! ignored. A field given twice counts as its last value.

use super::{checked, finite, timestamp, Fix, FixError, MPS_PER_KNOT};

/// Most fields read from one query or form (Traccar's apps send about ten).
const MAX_FIELDS: usize = 256;

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body)
/// into pairs: `+` is a space, `%XX` a byte; a malformed escape is kept as written.
/// Text that does not decode to UTF-8 is decoded lossily (it can only fail later as
/// a number or an unknown device).
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|part| !part.is_empty())
        .take(MAX_FIELDS)
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (unescape(key), unescape(value))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The fields of one OsmAnd request, as pairs (see [`form_pairs`]).
pub fn decode_query(pairs: &[(String, String)]) -> Result<Fix, FixError> {
    let mut device = None;
    let (mut lat, mut lon) = (None, None);
    let mut fix = Fix {
        device: String::new(),
        lat: 0.0,
        lon: 0.0,
        ts_ms: None,
        speed_mps: None,
        heading_deg: None,
        altitude_m: None,
        accuracy_m: None,
        battery_pct: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "id" | "deviceid" => device = Some(value.trim().to_string()),
            "lat" => lat = Some(finite("lat", value)?),
            "lon" => lon = Some(finite("lon", value)?),
            "location" => {
                let (a, b) = value.split_once(',').ok_or_else(|| {
                    FixError::new("location", format!("{value:?} is not lat,lon"))
                })?;
                lat = Some(finite("location", a)?);
                lon = Some(finite("location", b)?);
            }
            "timestamp" => {
                let ts = timestamp::parse(value).map_err(|why| FixError::new("timestamp", why))?;
                fix.ts_ms = Some(ts);
            }
            "speed" => fix.speed_mps = Some(finite("speed", value)? * MPS_PER_KNOT),
            "bearing" | "heading" => fix.heading_deg = Some(finite("bearing", value)?),
            "altitude" => fix.altitude_m = Some(finite("altitude", value)?),
            "accuracy" => fix.accuracy_m = Some(finite("accuracy", value)?),
            "batt" => fix.battery_pct = Some(finite("batt", value)?),
            _ => {}
        }
    }
    fix.device = device.ok_or_else(|| FixError::new("id", "missing (id or deviceid)"))?;
    match (lat, lon) {
        (Some(a), Some(b)) => (fix.lat, fix.lon) = (a, b),
        (None, _) => return Err(FixError::new("lat", "missing (lat and lon, or location)")),
        (_, None) => return Err(FixError::new("lon", "missing (lat and lon, or location)")),
    }
    checked(fix)
}

#[cfg(test)]
mod tests {
    use super::{decode_query, form_pairs};
    use crate::trackers::MPS_PER_KNOT;
    use proptest::prelude::*;

    fn decode(query: &str) -> Result<crate::trackers::Fix, crate::trackers::FixError> {
        decode_query(&form_pairs(query))
    }

    /// Every request of Traccar's `OsmAndProtocolDecoderTest.testDecodeQuery` that
    /// carries a position (the query part of each URL, copied as is).
    const TRACCAR_QUERIES: &[&str] = &[
        "id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
        "id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
        "lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681",
        "id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0",
        "id=123456&timestamp=1377177267&lat=60.0&lon=30.0",
        "lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456",
        "id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
        "id=123456&timestamp=1377177267&location=60.0,30.0",
        "id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
    ];

    #[test]
    fn every_traccar_test_request_decodes() {
        for q in TRACCAR_QUERIES {
            let fix = decode(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(!fix.device.is_empty(), "{q}");
        }
        let fix = decode(TRACCAR_QUERIES[0]).unwrap();
        assert_eq!(fix.device, "902064");
        assert_eq!((fix.lat, fix.lon), (42.06288, -88.23412));
        assert_eq!(fix.ts_ms, Some(1_453_920_947_000));
        assert_eq!(fix.altitude_m, Some(224.0));
        let fix = decode(TRACCAR_QUERIES[2]).unwrap();
        assert_eq!(fix.device, "353861053849681");
        assert_eq!(fix.ts_ms, Some(1_401_873_011_000));
        let fix = decode(TRACCAR_QUERIES[5]).unwrap();
        assert_eq!(fix.device, "123456");
        assert_eq!(fix.ts_ms, None);
        let fix = decode(TRACCAR_QUERIES[6]).unwrap();
        assert_eq!(fix.battery_pct, Some(87.0));
        let fix = decode(TRACCAR_QUERIES[7]).unwrap();
        assert_eq!(
            (fix.lat, fix.lon, fix.ts_ms),
            (60.0, 30.0, Some(1_377_177_267_000))
        );
        let fix = decode(TRACCAR_QUERIES[8]).unwrap();
        assert_eq!(fix.speed_mps, Some(40.0 * MPS_PER_KNOT));
        assert_eq!(fix.heading_deg, Some(7.19889788244));
    }

    #[test]
    fn the_requests_traccar_refuses_are_refused_with_the_field() {
        // Traccar's own null case: no id.
        let e = decode("timestamp=1377177267&lat=60.0&lon=30.0").unwrap_err();
        assert_eq!(e.field, "id");
        // Its cell/wifi-only request has no coordinates: we have no "last location".
        let e = decode("id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80").unwrap_err();
        assert_eq!(e.field, "lat");
        for (q, field) in [
            ("id=1&lat=abc&lon=30", "lat"),
            ("id=1&lat=60", "lon"),
            ("id=1&lat=91&lon=30", "lat"),
            ("id=1&lat=60&lon=-180.5", "lon"),
            ("id=1&lat=NaN&lon=30", "lat"),
            ("id=1&lat=inf&lon=30", "lat"),
            ("id=1&location=60.0", "location"),
            ("id=1&location=60.0,x", "location"),
            ("id=1&lat=60&lon=30&timestamp=yesterday", "timestamp"),
            ("id=1&lat=60&lon=30&speed=-3", "speed"),
            ("id=1&lat=60&lon=30&bearing=400", "bearing"),
            ("id=&lat=60&lon=30", "id"),
            ("", "id"),
        ] {
            let e = decode(q).unwrap_err();
            assert_eq!(e.field, field, "{q}: {e}");
        }
    }

    #[test]
    fn forms_unescape_like_a_browser() {
        let pairs = form_pairs("a=1+2&b=%3A%2c&c=%zz&d&=e&f=%4");
        assert_eq!(
            pairs,
            [
                ("a".into(), "1 2".into()),
                ("b".into(), ":,".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), String::new()),
                (String::new(), "e".into()),
                ("f".into(), "%4".into()),
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Whatever the query string, the parser answers a fix or an error: no panic.
        #[test]
        fn arbitrary_queries_never_panic(query in ".{0,300}") {
            let _ = decode(&query);
        }

        /// Queries made of the protocol's own field names with arbitrary values.
        #[test]
        fn arbitrary_field_values_never_panic(
            fields in proptest::collection::vec(
                (prop::sample::select(vec!["id", "deviceid", "lat", "lon", "location",
                    "timestamp", "speed", "bearing", "heading", "altitude", "accuracy", "batt"]),
                 "[-+0-9.,:%TZ a-z]{0,24}"),
                0..12,
            )
        ) {
            let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Ok(fix) = decode(&query.join("&")) {
                prop_assert!(fix.lat.abs() <= 90.0 && fix.lon.abs() <= 180.0);
            }
        }
    }
}
