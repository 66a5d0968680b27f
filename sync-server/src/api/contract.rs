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

/// Give each variant of a tagged union its own named schema, with a discriminator.
///
/// serde's internally tagged enums (`#[serde(tag = "kind")]`: an inspection's body, a site's
/// details) come out of `utoipa` as `oneOf` of inline `allOf [variant, {kind: enum [tag]}]`,
/// which client generators cannot turn into types (openapi-python-client drops `Inspection`
/// and `Site` with them). Named variants (`InspectionBody_water_body`, …) and a discriminator
/// describe exactly the same JSON, in the form generators read.
pub fn name_union_variants(doc: &mut serde_json::Value) {
    use serde_json::{Map, Value, json};
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    let mut added = Map::new();
    for (name, schema) in schemas.iter_mut() {
        let Some(items) = schema.get("oneOf").and_then(Value::as_array) else { continue };
        // Each item: allOf [ {$ref}, {type: object, required: [tag], properties: {tag: {enum: [v]}}} ].
        let tagged: Option<Vec<(String, String, Value)>> = items
            .iter()
            .map(|item| {
                let parts = item.get("allOf")?.as_array()?;
                let inline = parts.iter().find(|p| p.get("$ref").is_none())?;
                let props = inline.get("properties")?.as_object()?;
                if props.len() != 1 {
                    return None;
                }
                let (tag, prop) = props.iter().next()?;
                let value = prop.get("enum")?.as_array()?.first()?.as_str()?;
                Some((tag.clone(), value.to_string(), item.clone()))
            })
            .collect();
        let Some(tagged) = tagged.filter(|t| !t.is_empty() && t.iter().all(|(tag, ..)| *tag == t[0].0))
        else {
            continue;
        };
        let tag = tagged[0].0.clone();
        let mut refs = Vec::new();
        let mut mapping = Map::new();
        for (_, value, item) in tagged {
            let variant = format!("{name}_{value}");
            let reference = format!("#/components/schemas/{variant}");
            added.insert(variant, item);
            mapping.insert(value, Value::String(reference.clone()));
            refs.push(json!({ "$ref": reference }));
        }
        schema["oneOf"] = Value::Array(refs);
        schema["discriminator"] = json!({ "propertyName": tag, "mapping": mapping });
    }
    schemas.extend(added);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn tagged_variants_become_named_schemas_behind_a_discriminator() {
        let variant = |r: &str, v: &str| {
            json!({"allOf": [{"$ref": format!("#/components/schemas/{r}")},
                {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": [v]}}}]})
        };
        let mut doc = json!({"components": {"schemas": {
            "Body": {"oneOf": [variant("A", "a"), variant("B", "b")]},
            "Plain": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        }}});
        let a = variant("A", "a");
        super::name_union_variants(&mut doc);
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["Body"]["oneOf"],
            json!([{"$ref": "#/components/schemas/Body_a"}, {"$ref": "#/components/schemas/Body_b"}])
        );
        assert_eq!(s["Body"]["discriminator"]["propertyName"], "kind");
        assert_eq!(s["Body"]["discriminator"]["mapping"]["b"], "#/components/schemas/Body_b");
        assert_eq!(s["Body_a"], a, "the variant is the same schema, named");
        assert!(s["Plain"].get("discriminator").is_none(), "other unions stay as they are");
    }
}
