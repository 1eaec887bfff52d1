//! The HTTP contract of an API as data (issue 17): one [`Operation`] per method and path. From the same rows the
//! server answers an unknown path under its prefix with 404 and a known path with the wrong method with 405 and
//! `Allow` ([`Contract::allowed`]), and the OpenAPI 3.1 document (JSON) is built with the JSON Schemas derived from this
//! crate's request and response types ([`Contract::document`]). The documents in the repository are written from
//! here and checked against it by a test, so they must never be edited by hand.
//!
//! Only the servers build this (feature `openapi`); the voter app does not carry it.
//!
//! Map: the rows (operations, methods, sessions) and the routing are here; `schema`: the bodies and the JSON
//! Schemas of their fields; `document`: the OpenAPI document built from the rows.

mod document;
mod schema;

use utoipa::openapi::path::HttpMethod;

pub use schema::{Body, Schemas, base64, challenge_base64, ciphertext_base64, json, json_example, json_list, text};

/// The HTTP methods the APIs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method's name, as in an `Allow` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    fn http(self) -> HttpMethod {
        match self {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Delete => HttpMethod::Delete,
        }
    }
}

/// What a request must carry besides its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing.
    Nothing,
    /// The API's session ([`Contract::session`]).
    Session,
}

/// A link from an operation's answer to the next operation, for tools that walk the API (OpenAPI links).
#[derive(Clone, Copy)]
pub struct Link {
    /// The link's name.
    pub name: &'static str,
    /// The `operationId` it leads to.
    pub to: &'static str,
    /// The next request body's fields taken from this answer: (JSON pointer into the next body, runtime
    /// expression), e.g. `("/nonce", "$response.body#/nonce")`.
    pub body: &'static [(&'static str, &'static str)],
    /// Path parameters taken from this answer: (name, runtime expression).
    pub parameters: &'static [(&'static str, &'static str)],
}

/// One operation of an API: a method on a path.
#[derive(Clone, Copy)]
pub struct Operation {
    /// The method.
    pub method: Method,
    /// The full path, with `{name}` for a path parameter.
    pub path: &'static str,
    /// A stable name (`operationId`).
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More, or empty.
    pub description: &'static str,
    /// What the request must carry.
    pub needs: Needs,
    /// The request body, if any.
    pub request: Option<Body>,
    /// The status of success.
    pub ok: u16,
    /// The body of success, if any.
    pub answer: Option<Body>,
    /// Every refusal, in groups that several operations share: its status and stable code. Each answers
    /// `ApiError` (`{code, message}`).
    pub refusals: &'static [&'static [(u16, &'static str)]],
    /// Where a tool may go next.
    pub links: &'static [Link],
}

/// How an API's session travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// The API has no sessions.
    None,
    /// A cookie of this name.
    Cookie(&'static str),
    /// `Authorization: Bearer <token>`.
    Bearer,
}

/// An API: its title, description, session and operations.
pub struct Contract {
    /// The title.
    pub title: &'static str,
    /// What it is and how it behaves.
    pub description: &'static str,
    /// The prefix every path starts with (e.g. `/api/`); a request under it that matches no row is answered by
    /// the API (404 or 405), never by anything else on the same server.
    pub prefix: &'static str,
    /// How its session travels.
    pub session: Session,
    /// The operations.
    pub operations: &'static [Operation],
    /// Refusals any operation may give (e.g. 404, 405, 413), with their codes.
    pub common_refusals: &'static [(u16, &'static str)],
}

/// What the contract says about a request's method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    /// The path is not under the API's prefix.
    Elsewhere,
    /// An operation answers it.
    Served,
    /// The path is an operation's, the method is not: these are.
    WrongMethod(Vec<&'static str>),
    /// No operation has this path.
    Unknown,
}

impl Contract {
    /// Says how a request is routed.
    pub fn allowed(&self, method: &str, path: &str) -> Routing {
        if !path.starts_with(self.prefix) && path != self.prefix.trim_end_matches('/') {
            return Routing::Elsewhere;
        }
        let methods: Vec<&'static str> =
            self.operations.iter().filter(|op| matches(op.path, path)).map(|op| op.method.as_str()).collect();
        if methods.is_empty() {
            Routing::Unknown
        } else if methods.contains(&method) {
            Routing::Served
        } else {
            Routing::WrongMethod(methods)
        }
    }
}

/// Whether a request path matches a template (`{name}` matches one non-empty segment).
fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let param = ts.starts_with('{') && ts.ends_with('}');
                if !(param && !ps.is_empty() || ts == ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    const OPS: &[Operation] = &[
        Operation {
            method: Method::Post,
            path: "/api/v1/things",
            id: "make",
            summary: "Makes a thing.",
            description: "",
            needs: Needs::Nothing,
            request: Some(json::<ApiError>()),
            ok: 201,
            answer: None,
            refusals: &[&[(400, "MALFORMED")]],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/things/{id}",
            id: "get",
            summary: "Gets a thing.",
            description: "",
            needs: Needs::Session,
            request: None,
            ok: 200,
            answer: Some(json::<ApiError>()),
            refusals: &[],
            links: &[],
        },
    ];

    pub(super) const API: Contract = Contract {
        title: "t",
        description: "d",
        prefix: "/api/",
        session: Session::Cookie("s"),
        operations: OPS,
        common_refusals: &[(404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED")],
    };

    #[test]
    fn routing_knows_paths_methods_and_parameters() {
        assert_eq!(API.allowed("POST", "/api/v1/things"), Routing::Served);
        assert_eq!(API.allowed("GET", "/api/v1/things"), Routing::WrongMethod(vec!["POST"]));
        assert_eq!(API.allowed("GET", "/api/v1/things/7"), Routing::Served);
        assert_eq!(API.allowed("GET", "/api/v1/things/"), Routing::Unknown);
        assert_eq!(API.allowed("GET", "/api/v1/things/7/x"), Routing::Unknown);
        assert_eq!(API.allowed("GET", "/api/v1/nope"), Routing::Unknown);
        assert_eq!(API.allowed("GET", "/api"), Routing::Unknown);
        assert_eq!(API.allowed("GET", "/apiary"), Routing::Elsewhere);
        assert_eq!(API.allowed("GET", "/"), Routing::Elsewhere);
    }
}
