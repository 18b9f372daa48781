//! Orders: their lifecycle and conversions (`model`), the directory of open orders and
//! the console feed (`book`), the one commit path for order and route changes
//! (`ledger`), the operations the HTTP and console front ends call (`service`), and the
//! live assignment statistics (`stats`).

pub mod book;
pub mod ledger;
pub mod model;
pub mod service;
pub mod stats;
