//! Google's encoded polyline algorithm (precision 5) for route geometry.

/// Encodes (lat, lon) points in degrees.
pub fn encode(points: &[[f64; 2]]) -> String {
    let mut out = String::with_capacity(points.len() * 8);
    let (mut last_lat, mut last_lon) = (0i64, 0i64);
    for p in points {
        let lat = (p[0] * 1e5).round() as i64;
        let lon = (p[1] * 1e5).round() as i64;
        push_value(&mut out, lat - last_lat);
        push_value(&mut out, lon - last_lon);
        (last_lat, last_lon) = (lat, lon);
    }
    out
}

fn push_value(out: &mut String, delta: i64) {
    let mut v = if delta < 0 { !(delta << 1) } else { delta << 1 };
    while v >= 0x20 {
        out.push(char::from(((0x20 | (v & 0x1f)) + 63) as u8));
        v >>= 5;
    }
    out.push(char::from((v + 63) as u8));
}

/// Decodes an encoded polyline; `None` if it is malformed.
pub fn decode(s: &str) -> Option<Vec<[f64; 2]>> {
    if !s.bytes().all(|b| (63..127).contains(&b)) {
        return None;
    }
    let mut bytes = s.bytes();
    let mut points = Vec::new();
    let (mut lat, mut lon) = (0i64, 0i64);
    while let Some(dlat) = next_value(&mut bytes) {
        let dlon = next_value(&mut bytes)?;
        lat += dlat;
        lon += dlon;
        points.push([lat as f64 / 1e5, lon as f64 / 1e5]);
    }
    (bytes.next().is_none()).then_some(points)
}

fn next_value(bytes: &mut std::str::Bytes<'_>) -> Option<i64> {
    let (mut result, mut shift) = (0i64, 0u32);
    loop {
        let b = i64::from(bytes.next()?) - 63;
        if !(0..64).contains(&b) || shift > 60 {
            return None;
        }
        result |= (b & 0x1f) << shift;
        shift += 5;
        if b < 0x20 {
            break;
        }
    }
    Some(if result & 1 == 1 {
        !(result >> 1)
    } else {
        result >> 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Google's documentation of the format.
    #[test]
    fn google_example() {
        let pts = [[38.5, -120.2], [40.7, -120.95], [43.252, -126.453]];
        assert_eq!(encode(&pts), "_p~iF~ps|U_ulLnnqC_mqNvxq`@");
        let back = decode("_p~iF~ps|U_ulLnnqC_mqNvxq`@").unwrap();
        for (a, b) in back.iter().zip(pts.iter()) {
            assert!((a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9);
        }
        assert_eq!(encode(&[]), "");
        assert_eq!(decode("_p~iF"), None);
        assert_eq!(decode("_p~iF~ps|U!"), None);
    }
}
