//! Binary values on the wire: [`Base64`], bytes that travel as standard, padded base64 text in JSON, so that no
//! API body carries a `String` that every reader must remember to decode (and may decode differently).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes, written in JSON as standard base64 with padding. A malformed value is refused when the body is read.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// Returns the bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Returns the base64 text.
    pub fn encoded(&self) -> String {
        B64.encode(&self.0)
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Base64 {
        Base64(v)
    }
}

impl std::fmt::Debug for Base64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64({} bytes)", self.0.len())
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encoded())
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Base64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        B64.decode(text.as_bytes()).map(Base64).map_err(|_| serde::de::Error::custom("not valid base64"))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Base64 {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::contract::base64().into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Base64 {}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn round_trips_and_refuses_malformed_text() {
        let b = Base64(vec![0, 1, 2, 250]);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"AAEC+g==\"");
        assert_eq!(serde_json::from_str::<Base64>(&json).unwrap(), b);
        assert!(serde_json::from_str::<Base64>("\"AAEC+g\"").is_err(), "unpadded");
        assert!(serde_json::from_str::<Base64>("\"%%%\"").is_err());
        assert_eq!(format!("{b:?}"), "Base64(4 bytes)");
    }
}
