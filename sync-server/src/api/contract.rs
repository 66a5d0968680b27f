//! The error answers every route can give, added to the OpenAPI document from what each
//! operation takes, so that the document lists every status the server may answer with
//! (`ApiError` bodies) without each handler's annotation repeating them: a bad path, query or
//! body, a missing or insufficient login, an unknown object behind a path parameter, a body too
//! large or in an unknown encoding, and a database that cannot be reached.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

pub fn complete_error_answers(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
        {
            complete(op);
        }
    }
}

fn complete(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_params = !params.is_empty();
    let has_body = op.request_body.is_some();
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = |status: &str, why: &str| {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(why)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build(),
                    )
                    .build(),
            )
        });
    };
    if has_params || has_body {
        add(
            "400",
            "The path, query or body could not be read (`invalid_path`, `invalid_query`, `malformed_json`, `invalid_body`).",
        );
        add("422", "A value was read but is not acceptable; `fields` names each one.");
    }
    if has_path {
        add("404", "Nothing of that id or code in the caller's scope (`not_found`).");
    }
    if has_body {
        add("413", "The body is larger than this route accepts (`body_too_large`).");
        add(
            "415",
            "The body is not JSON, or in an encoding the server does not read (`unsupported_media_type`).",
        );
    }
    if secured {
        add("401", "No login, or an expired or revoked token or key (`unauthenticated`, `token_expired`).");
        add("403", "The caller's role may not do this (`forbidden`).");
    }
    add("503", "The database or the blob store cannot be reached right now; retry (`unavailable`).");
}
