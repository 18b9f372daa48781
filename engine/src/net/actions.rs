//! Order changes on behalf of a token, shared by HTTP and the console socket: the
//! role check, the change, then its audit record (written only once it succeeded).

use super::extract::{audit, require};
use crate::app::App;
use crate::auth::{Action, Claims};
use crate::error::ApiError;
use crate::orders::service::{self, Created};
use dispatch_protocol::{NewOrder, Order};
use std::sync::Arc;

/// Creates an order as `who` (role intake or above); an idempotent repeat changes
/// nothing and is not audited.
pub async fn create_order(
    app: &Arc<App>,
    who: &Claims,
    new: NewOrder,
) -> Result<(Created, Order), ApiError> {
    require(who, Action::CreateOrder)?;
    let (how, order) = service::create(app, new).await?;
    if how == Created::New {
        audit(app, who, "order.create", &order.id);
    }
    Ok((how, order))
}

/// Cancels an order as `who` (role dispatcher or above).
pub async fn cancel_order(app: &Arc<App>, who: &Claims, id: &str) -> Result<Order, ApiError> {
    require(who, Action::CancelOrder)?;
    let order = service::cancel(app, id).await?;
    audit(app, who, "order.cancel", &order.id);
    Ok(order)
}
