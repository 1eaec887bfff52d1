//! Operators (R-SEC-4): every operator is a person with their own X.509 client certificate from the system's
//! operator CA, a second factor (TOTP, RFC 6238) entered per session, and one role; several people may hold the
//! same role. Committee roles are bound to one municipality (R-SYS-1: a committee sees only its own voters).

pub mod api;
pub mod auth;
pub mod ca;
pub mod crew;
pub mod four_eyes;
pub mod host;

use serde::{Deserialize, Serialize};

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 選管事務担当: records arrivals, roll changes, document switches, cross-channel checks, emergency declarations.
    Clerk,
    /// 選管決裁者: accepts and rejects applications.
    Approver,
    /// System administrator: election settings such as the application cut-off.
    Admin,
    /// Auditor: reads the audit log and records, changes nothing.
    Auditor,
    /// Counting officer: receives exports for counting.
    CountingOfficer,
}

impl Role {
    /// Returns whether the role is bound to one municipality.
    pub fn is_committee(self) -> bool {
        matches!(self, Role::Clerk | Role::Approver)
    }
}

/// An authenticated operator (client certificate + TOTP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Operator {
    /// Hex SHA-256 of the operator's client certificate.
    pub fingerprint: String,
    /// The person's name (from the certificate's subject common name).
    pub name: String,
    /// The role.
    pub role: Role,
    /// The municipality code, for committee roles.
    pub municipality: Option<String>,
}

impl Operator {
    /// Returns the actor string written in audit entries: role, municipality and the person.
    pub fn actor(&self) -> String {
        match &self.municipality {
            Some(m) => format!(
                "operator:{:?}@{m}:{} ({})",
                self.role,
                self.name,
                &self.fingerprint[..16.min(self.fingerprint.len())]
            ),
            None => format!(
                "operator:{:?}:{} ({})",
                self.role,
                self.name,
                &self.fingerprint[..16.min(self.fingerprint.len())]
            ),
        }
    }

    /// Returns whether this operator may act on a municipality's data (R-SYS-1).
    pub fn may_see(&self, municipality: &str) -> bool {
        match self.role {
            Role::Clerk | Role::Approver => self.municipality.as_deref() == Some(municipality),
            Role::Admin | Role::Auditor => true,
            Role::CountingOfficer => false,
        }
    }
}
