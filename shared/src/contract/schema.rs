//! The bodies of an operation (media type, schema, example) and the JSON Schemas of the fields that carry binary
//! data in base64.

use utoipa::ToSchema;
use utoipa::openapi::{Ref, RefOr, Schema};

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

pub(super) fn string_schema(_: &mut Schemas) -> RefOr<Schema> {
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
