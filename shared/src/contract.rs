//! The HTTP contract of an API as data (issue 17): one [`Operation`] per method and path. From the same rows the
//! server answers an unknown path under its prefix with 404 and a known path with the wrong method with 405 and
//! `Allow` ([`Contract::allowed`]), and the OpenAPI 3.1 document (JSON) is built with the JSON Schemas derived from this
//! crate's request and response types ([`Contract::document`]). The documents in the repository are written from
//! here and checked against it by a test, so they must never be edited by hand.
//!
//! Only the servers build this (feature `openapi`); the voter app does not carry it.

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    Schema, ServerBuilder,
};

/// The JSON Schemas gathered for a document: name and schema.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// A body: its media type and how to reach its schema.
#[derive(Clone, Copy)]
pub struct Body {
    /// The media type, e.g. `application/json`.
    pub media: &'static str,
    /// Adds the schema (and every schema it refers to) and returns a reference to it.
    pub schema: fn(&mut Schemas) -> RefOr<Schema>,
    /// An example, as JSON text.
    pub example: Option<&'static str>,
}

/// A JSON body of type `T`.
pub const fn json<T: ToSchema>() -> Body {
    Body { media: "application/json", schema: schema_of::<T>, example: None }
}

/// A JSON body of type `T` with an example.
pub const fn json_example<T: ToSchema>(example: &'static str) -> Body {
    Body { media: "application/json", schema: schema_of::<T>, example: Some(example) }
}

/// A JSON array of `T`.
pub const fn json_list<T: ToSchema>() -> Body {
    Body { media: "application/json", schema: list_of::<T>, example: None }
}

/// A body of another media type, as a string (HTML, CSV).
pub const fn text(media: &'static str) -> Body {
    Body { media, schema: string_schema, example: None }
}

fn schema_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    T::schemas(schemas);
    schemas.push((T::name().into_owned(), T::schema()));
    Ref::from_schema_name(T::name()).into()
}

fn list_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    let item = schema_of::<T>(schemas);
    RefOr::T(Schema::Array(utoipa::openapi::schema::ArrayBuilder::new().items(item).build()))
}

fn string_schema(_: &mut Schemas) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        utoipa::openapi::schema::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).build(),
    ))
}

/// Canonical standard base64 with padding, as the servers decode it (the `base64` crate refuses non-zero
/// trailing bits, so the last character before `=` is one of those that leave them zero).
const BASE64: &str = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

fn base64_string() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(BASE64))
        .content_encoding("base64")
}

/// A field of binary data in base64 ([`BASE64`]).
pub fn base64() -> utoipa::openapi::schema::Object {
    base64_string().build()
}

/// A ballot's ciphertext: 384 bytes (RSA-3072) in base64, 512 characters without padding.
pub fn ciphertext_base64() -> utoipa::openapi::schema::Object {
    base64_string().pattern(Some("^[A-Za-z0-9+/]{512}$")).build()
}

/// The helper's challenge: 16 to 128 bytes in base64 (24 to 168 characters keep it inside).
pub fn challenge_base64() -> utoipa::openapi::schema::Object {
    base64_string().min_length(Some(24)).max_length(Some(168)).build()
}

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
    fn security_scheme(&self) -> Option<(&'static str, SecurityScheme)> {
        match self.session {
            Session::None => None,
            Session::Cookie(name) => Some((name, SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(name))))),
            Session::Bearer => Some((
                "bearer",
                SecurityScheme::Http(utoipa::openapi::security::Http::new(
                    utoipa::openapi::security::HttpAuthScheme::Bearer,
                )),
            )),
        }
    }

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

    /// The OpenAPI 3.1 document as pretty JSON, as the repository keeps it.
    pub fn json(&self) -> String {
        let mut doc = serde_json::to_value(self.document()).unwrap_or_default();
        fix_links(&mut doc);
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Builds the OpenAPI 3.1 document.
    pub fn document(&self) -> OpenApi {
        let mut schemas = Schemas::new();
        let mut paths = PathsBuilder::new();
        let mut order: Vec<&'static str> = Vec::new();
        for op in self.operations {
            if !order.contains(&op.path) {
                order.push(op.path);
            }
        }
        for path in order {
            for op in self.operations.iter().filter(|op| op.path == path) {
                let mut b = OperationBuilder::new().operation_id(Some(op.id)).summary(Some(op.summary));
                if !op.description.is_empty() {
                    b = b.description(Some(op.description));
                }
                for name in parameters(op.path) {
                    b = b.parameter(
                        ParameterBuilder::new()
                            .name(name)
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True)
                            .schema(Some(string_schema(&mut schemas))),
                    );
                }
                if op.needs == Needs::Session
                    && let Some((name, _)) = self.security_scheme()
                {
                    b = b.security(SecurityRequirement::new::<_, _, &str>(name, []));
                }
                if let Some(body) = op.request {
                    b = b.request_body(Some(
                        RequestBodyBuilder::new()
                            .required(Some(Required::True))
                            .content(body.media, content(body, &mut schemas))
                            .build(),
                    ));
                }
                let mut ok = ResponseBuilder::new().description(ok_description(op.ok));
                if let Some(body) = op.answer {
                    ok = ok.content(body.media, content(body, &mut schemas));
                }
                for link in op.links {
                    ok = ok.link(link.name, link_of(link));
                }
                b = b.response(op.ok.to_string(), ok.build());
                let refusals: Vec<(u16, &str)> =
                    op.refusals.iter().flat_map(|g| g.iter()).chain(self.common_refusals).copied().collect();
                let mut statuses: Vec<u16> = refusals.iter().map(|(s, _)| *s).collect();
                statuses.sort_unstable();
                statuses.dedup();
                for status in statuses {
                    let mut codes: Vec<&str> = refusals.iter().filter(|(s, _)| *s == status).map(|(_, c)| *c).collect();
                    codes.sort_unstable();
                    codes.dedup();
                    let mut r = ResponseBuilder::new()
                        .description(format!("Refused: {}", codes.join(", ")))
                        .content("application/json", ContentBuilder::new().schema(Some(refusal(&codes))).build());
                    if status == 405 {
                        r = r.header(
                            "Allow",
                            utoipa::openapi::HeaderBuilder::new().schema(string_schema(&mut schemas)).build(),
                        );
                    }
                    b = b.response(status.to_string(), r.build());
                }
                paths = paths.path(op.path, PathItem::new(op.method.http(), b.build()));
            }
        }
        schemas.sort_by(|a, b| a.0.cmp(&b.0));
        schemas.dedup_by(|a, b| a.0 == b.0);
        let mut components = ComponentsBuilder::new().schemas_from_iter(schemas);
        if let Some((name, scheme)) = self.security_scheme() {
            components = components.security_scheme(name, scheme);
        }
        OpenApiBuilder::new()
            .info(InfoBuilder::new().title(self.title).version("1").description(Some(self.description)).build())
            .servers(Some([ServerBuilder::new().url("/").build()]))
            .paths(paths.build())
            .components(Some(components.build()))
            .build()
    }
}

/// `ApiError` with its `code` limited to the codes this status may carry, so that a tool can tell an
/// undocumented refusal from a documented one.
fn refusal(codes: &[&str]) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let code = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes.iter().copied()));
    let message =
        ObjectBuilder::new().schema_type(Type::String).description(Some("What happened and what to do next."));
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("code", code)
            .property("message", message)
            .required("code")
            .required("message")
            .build(),
    ))
}

fn content(body: Body, schemas: &mut Schemas) -> utoipa::openapi::Content {
    let mut c = ContentBuilder::new().schema(Some((body.schema)(schemas)));
    if let Some(example) = body.example.and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok()) {
        c = c.example(Some(example));
    }
    c.build()
}

/// utoipa 5 writes a link's fields in snake case (`operation_id`); OpenAPI spells them in camel case.
fn fix_links(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                for link in links.values_mut() {
                    if let serde_json::Value::Object(fields) = link {
                        for (from, to) in [
                            ("operation_id", "operationId"),
                            ("operation_ref", "operationRef"),
                            ("request_body", "requestBody"),
                        ] {
                            if let Some(value) = fields.remove(from) {
                                fields.insert(to.into(), value);
                            }
                        }
                    }
                }
            }
            map.values_mut().for_each(fix_links);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fix_links),
        _ => {}
    }
}

fn link_of(link: &Link) -> utoipa::openapi::link::Link {
    let mut b = utoipa::openapi::link::LinkBuilder::new().operation_id(link.to);
    for (name, expr) in link.parameters {
        b = b.parameter(*name, *expr);
    }
    if !link.body.is_empty() {
        let mut body = serde_json::Map::new();
        for (field, expr) in link.body {
            body.insert(field.trim_start_matches('/').to_string(), serde_json::Value::String((*expr).to_string()));
        }
        b = b.request_body(Some(serde_json::Value::Object(body)));
    }
    b.build()
}

fn ok_description(status: u16) -> &'static str {
    match status {
        201 => "Created.",
        204 => "Done; no body.",
        _ => "Done.",
    }
}

/// The names of a path template's parameters, in order.
fn parameters(template: &str) -> impl Iterator<Item = &str> {
    template.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
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

    const API: Contract = Contract {
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

    #[test]
    fn the_document_has_every_operation_with_schemas_and_refusals() {
        let doc = serde_json::to_value(API.document()).unwrap();
        let make = &doc["paths"]["/api/v1/things"]["post"];
        assert_eq!(
            make["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiError"
        );
        assert_eq!(
            make["responses"]["400"]["content"]["application/json"]["schema"]["properties"]["code"]["enum"][0],
            "MALFORMED"
        );
        assert!(make["responses"]["400"].is_object() && make["responses"]["405"]["headers"]["Allow"].is_object());
        let get = &doc["paths"]["/api/v1/things/{id}"]["get"];
        assert_eq!(get["parameters"][0]["name"], "id");
        assert!(get["security"].is_array());
        assert!(doc["components"]["schemas"]["ApiError"]["properties"]["code"].is_object());
    }
}
