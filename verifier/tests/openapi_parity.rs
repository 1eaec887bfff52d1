//! Every operation of the voter API's contract (`verifier/src/contract/`, from which `verifier/openapi.json`
//! is written) is served, and every route in the code (each filter is documented by its HTTP line, e.g.
//! `/// \`GET /api/v1/time\``) is in the contract, and the reverse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use verifier::voting::filters::routes;

fn documented_in_openapi() -> BTreeSet<(String, String)> {
    verifier::contract::VOTER
        .operations
        .iter()
        .map(|op| (op.method.as_str().to_string(), op.path.to_string()))
        .collect()
}

fn routes_in_code() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/voting/filters.rs");
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("/// `").or_else(|| l.trim().strip_prefix("// ")))
        .filter_map(|l| {
            let l = l.trim_end_matches('`');
            let (method, path) = l.split_once(' ')?;
            (["GET", "POST", "DELETE", "PUT", "PATCH"].contains(&method) && path.starts_with("/api/v1/"))
                .then(|| (method.to_string(), path.to_string()))
        })
        .collect()
}

#[test]
fn openapi_and_code_name_the_same_routes() {
    let doc = documented_in_openapi();
    let code = routes_in_code();
    assert!(doc.len() >= 9, "{doc:?}");
    assert_eq!(doc, code, "the contract and filters.rs disagree");
}

#[tokio::test]
async fn every_documented_route_is_served_and_others_are_not() {
    let f = support::fixture(0);
    let r = routes(f.state.clone(), None);
    for (method, path) in documented_in_openapi() {
        let resp = warp::test::request().method(&method).path(&path).body("{}").reply(&r).await;
        let code = serde_json::from_slice::<shared::api::ApiError>(resp.body()).map(|e| e.code).unwrap_or_default();
        assert!(
            code != "NOT_FOUND" && code != "METHOD_NOT_ALLOWED",
            "{method} {path} is documented but not served ({}, {code})",
            resp.status()
        );
    }
    for (method, path) in [("GET", "/api/v1/voters"), ("PUT", "/api/v1/ballots"), ("GET", "/api/v1/admin")] {
        let resp = warp::test::request().method(method).path(path).reply(&r).await;
        assert!(resp.status() == 404 || resp.status() == 405, "{method} {path}: {}", resp.status());
    }
}
