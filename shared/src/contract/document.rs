//! The OpenAPI 3.1 document of a [`Contract`], built from its rows with the JSON Schemas of this crate's types.
//! The documents in the repository are written from here and checked against it by a test, so they must never
//! be edited by hand.

use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required, Schema,
    ServerBuilder,
};

use super::schema::{Body, Schemas, string_schema};
use super::{Contract, Link, Needs, Session};

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

#[cfg(test)]
mod tests {
    use crate::contract::tests::API;

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
