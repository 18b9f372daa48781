//! Key encodings, chosen so that a byte-order range scan returns entities in order.
//!
//! * Driver trees (`drivers`, `driver_state`, `routes`) and order trees (`orders`,
//!   `open_orders`): the id's UTF-8 bytes. Byte order of UTF-8 equals Rust's `str`
//!   order, so a scan comes back in the same order as a `BTreeMap<String, _>`, and
//!   "ids after `x`" is a plain range scan that starts after `x`'s bytes.
//! * `events`: the sequence number as 8 big-endian bytes, so byte order is numeric
//!   order (little-endian or varint keys would put 256 before 2).
//! * `trails`: the driver id's bytes, a 0 byte, then the fix time as 8 big-endian
//!   bytes: one driver's points are one contiguous range in time order, and the 0 byte
//!   (never in an id) keeps `d1`'s range apart from `d1x`'s.

use crate::error::StoreError;

/// Key of a driver in the `drivers` and `driver_state` trees.
pub fn driver_key(id: &str) -> &[u8] {
    id.as_bytes()
}

/// Decodes a driver-tree key back into the id.
pub fn driver_id(tree: &'static str, key: &[u8]) -> Result<String, StoreError> {
    utf8_id(tree, key, "driver key is not UTF-8")
}

/// Key of an order in the `orders` and `open_orders` trees.
pub fn order_key(id: &str) -> &[u8] {
    id.as_bytes()
}

/// Decodes an order-tree key back into the id.
pub fn order_id(tree: &'static str, key: &[u8]) -> Result<String, StoreError> {
    utf8_id(tree, key, "order key is not UTF-8")
}

/// [`order_id`] borrowed from the key (no copy): the verification reads a million.
pub fn order_id_str<'a>(tree: &'static str, key: &'a [u8]) -> Result<&'a str, StoreError> {
    std::str::from_utf8(key).map_err(|_| StoreError::Corrupt {
        tree,
        key: hex(key),
        reason: "order key is not UTF-8".to_owned(),
    })
}

/// Decodes a UTF-8 id key; `reason` says which kind of key failed.
fn utf8_id(tree: &'static str, key: &[u8], reason: &str) -> Result<String, StoreError> {
    String::from_utf8(key.to_vec()).map_err(|_| StoreError::Corrupt {
        tree,
        key: hex(key),
        reason: reason.to_owned(),
    })
}

/// Key of event `seq` in the `events` tree.
pub fn event_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Decodes an `events` key back into the sequence number.
pub fn event_seq(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::Corrupt {
        tree: "events",
        key: hex(key),
        reason: format!("event key has {} bytes, expected 8", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// Key of a driver's trail point taken at `ts_ms` in the `trails` tree.
pub fn trail_key(driver: &str, ts_ms: u64) -> Vec<u8> {
    let mut key = trail_prefix(driver);
    key.extend_from_slice(&ts_ms.to_be_bytes());
    key
}

/// The prefix every trail key of `driver` starts with.
pub fn trail_prefix(driver: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(driver.len() + 9);
    key.extend_from_slice(driver.as_bytes());
    key.push(0);
    key
}

/// Decodes a `trails` key back into (driver id, fix time).
pub fn trail_parts(key: &[u8]) -> Result<(String, u64), StoreError> {
    let bad = |reason: &str| StoreError::Corrupt {
        tree: "trails",
        key: hex(key),
        reason: reason.to_owned(),
    };
    let split = key
        .len()
        .checked_sub(9)
        .ok_or_else(|| bad("trail key is shorter than 9 bytes"))?;
    if key[split] != 0 {
        return Err(bad("trail key lacks the 0 byte after the driver id"));
    }
    let ts: [u8; 8] = key[split + 1..]
        .try_into()
        .map_err(|_| bad("trail key time is not 8 bytes"))?;
    let id = utf8_id("trails", &key[..split], "trail key driver id is not UTF-8")?;
    Ok((id, u64::from_be_bytes(ts)))
}

/// Renders raw key bytes for an error message.
pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_numerically() {
        let seqs = [0u64, 1, 2, 255, 256, 65_535, 65_536, u64::MAX - 1, u64::MAX];
        let mut keys: Vec<[u8; 8]> = seqs.iter().rev().map(|s| event_key(*s)).collect();
        keys.sort();
        let back: Vec<u64> = keys.iter().map(|k| event_seq(k).unwrap()).collect();
        assert_eq!(back, seqs);
    }

    #[test]
    fn driver_keys_sort_like_strings() {
        let mut ids = vec!["b", "a", "aa", "B", "é", "z", "d10", "d9", "", "\u{7f}"];
        let mut keys: Vec<&[u8]> = ids.iter().map(|id| driver_key(id)).collect();
        keys.sort();
        ids.sort();
        let back: Vec<String> = keys
            .iter()
            .map(|k| driver_id("drivers", k).unwrap())
            .collect();
        assert_eq!(back, ids);
    }

    #[test]
    fn bad_keys_are_corrupt() {
        assert!(matches!(
            event_seq(&[1, 2, 3]),
            Err(StoreError::Corrupt { tree: "events", .. })
        ));
        assert!(matches!(
            driver_id("drivers", &[0xff, 0xfe]),
            Err(StoreError::Corrupt { key, .. }) if key == "fffe"
        ));
        assert!(matches!(
            order_id("orders", &[0xc3]),
            Err(StoreError::Corrupt { tree: "orders", key, .. }) if key == "c3"
        ));
        assert_eq!(order_id("orders", order_key("o-é")).unwrap(), "o-é");
    }
}
