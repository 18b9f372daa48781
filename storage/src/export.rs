//! [`Export`]: a raw copy of every data tree taken while no write runs, so it is one
//! consistent state of the store (every atomic write wholly in or wholly out). What an
//! online backup carries from the engine to a new database.

/// One tree's `(key, value)` pairs, in key order.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// `(tree, pairs)` for every data tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    /// The trees, named as the sled database names them.
    pub trees: Vec<(&'static str, Pairs)>,
}

impl Export {
    /// Records in all trees.
    pub fn records(&self) -> usize {
        self.trees.iter().map(|(_, pairs)| pairs.len()).sum()
    }
}
