//! Console roles and what each may do. Roles are ordered: each one may do everything
//! the one before it may, so a permission check is one comparison.

use serde::{Deserialize, Serialize};

/// What a console token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything (GET endpoints, the console socket's feed).
    Viewer,
    /// A viewer that also creates orders (an order-intake system).
    Intake,
    /// Intake that also cancels orders and registers drivers.
    Dispatcher,
    /// Everything, token management and the audit log included.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Intake, Role::Dispatcher, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Intake => "intake",
            Role::Dispatcher => "dispatcher",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do `action`.
    pub fn may(self, action: Action) -> bool {
        self >= action.needs()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a console token asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// GET endpoints, subscribing on `/ws/console`.
    Read,
    /// `POST /v1/orders`, `create_order` on the console socket.
    CreateOrder,
    /// `POST /v1/orders/{id}/cancel`, `cancel_order` on the console socket.
    CancelOrder,
    /// `POST /v1/drivers`.
    RegisterDriver,
    /// `PUT /v1/orders/{id}/proof` (a driver uploads its own orders' proofs).
    AttachProof,
    /// `/v1/tokens`, `/v1/audit`.
    Admin,
}

impl Action {
    /// The least role allowed to do this.
    pub fn needs(self) -> Role {
        match self {
            Action::Read => Role::Viewer,
            Action::CreateOrder => Role::Intake,
            Action::CancelOrder | Action::RegisterDriver | Action::AttachProof => Role::Dispatcher,
            Action::Admin => Role::Admin,
        }
    }

    /// For a 403's message.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Read => "reading",
            Action::CreateOrder => "creating orders",
            Action::CancelOrder => "cancelling orders",
            Action::RegisterDriver => "registering drivers",
            Action::AttachProof => "attaching proofs of delivery",
            Action::Admin => "managing tokens and reading the audit log",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table() {
        use Action::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Intake, [true, true, false, false, false]),
            (Role::Dispatcher, [true, true, true, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, allowed) in table {
            let actions = [Read, CreateOrder, CancelOrder, RegisterDriver, Admin];
            for (action, ok) in actions.into_iter().zip(allowed) {
                assert_eq!(role.may(action), ok, "{role} {action:?}");
            }
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
