//! Key encodings, chosen so that a byte-order range scan returns entities in order.
//!
//! * Driver trees (`drivers`, `driver_state`, `routes`) and order trees (`orders`,
//!   `open_orders`): the id's UTF-8 bytes. Byte order of UTF-8 equals Rust's `str`
//!   order, so a scan comes back in the same order as a `BTreeMap<String, _>`, and
//!   "ids after `x`" is a plain range scan that starts after `x`'s bytes.
//! * `events`: the sequence number as 8 big-endian bytes, so byte order is numeric
//!   order (little-endian or varint keys would put 256 before 2).

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
