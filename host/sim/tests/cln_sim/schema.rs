//! A validator for Core Lightning's JSON schema dialect, just the subset its
//! RPC schemas use: `type` (JSON's types plus CLN's `u8`..`u64`, `msat`,
//! `pubkey`, `short_channel_id`, `hex`, `hash`, `txid`), `properties`,
//! `required`, `additionalProperties: false`, `enum`, `items`, `allOf`,
//! `if`/`then`/`else`, `minLength`/`maxLength`. A generic JSON Schema crate
//! would refuse CLN's types. Any keyword outside this subset panics, so a
//! constraint can never be skipped silently; fields marked `deprecated` are
//! errors (CLN drops them).

use std::path::PathBuf;

use serde_json::Value;

/// Keywords that describe rather than constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "added",
    "default",
    "post_return_value_notes",
    "dependentUpon",
];

/// A method's schema file from `host/node/tests/cln-schemas/`.
pub fn load(method: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "node",
        "tests",
        "cln-schemas",
        &format!("{method}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every violation of `schema` by `value`, as "path: problem".
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    errors
}

/// Panics with every violation if `result` is not a valid answer to `method`.
pub fn assert_response(method: &str, result: &Value) {
    let errors = validate(&load(method)["response"], result);
    assert!(
        errors.is_empty(),
        "{method} answer violates the schema:\n{}\n{result:#}",
        errors.join("\n")
    );
}

/// Panics if `params` are not a valid `method` request.
pub fn assert_request(method: &str, params: &Value) {
    let errors = validate(&load(method)["request"], params);
    assert!(
        errors.is_empty(),
        "{method} request violates the schema:\n{}\n{params:#}",
        errors.join("\n")
    );
}

fn is_hex(s: &str) -> bool {
    s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn type_matches(name: &str, value: &Value) -> bool {
    let uint = |max: u64| value.as_u64().is_some_and(|n| n <= max);
    let string = value.as_str();
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "u8" => uint(u8::MAX.into()),
        "u16" => uint(u16::MAX.into()),
        "u32" => uint(u32::MAX.into()),
        "u64" | "msat" => uint(u64::MAX),
        "hex" => string.is_some_and(is_hex),
        "hash" | "txid" => string.is_some_and(|s| s.len() == 64 && is_hex(s)),
        "pubkey" => string.is_some_and(|s| {
            s.len() == 66 && is_hex(s) && (s.starts_with("02") || s.starts_with("03"))
        }),
        "short_channel_id" => string.is_some_and(|s| {
            let parts: Vec<&str> = s.split('x').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        }),
        other => panic!("schema type {other:?} is outside the supported subset"),
    }
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Value::Object(schema) = schema else {
        panic!("{path}: schema is not an object: {schema}");
    };
    for (keyword, arg) in schema {
        match keyword.as_str() {
            "type" => {
                let name = arg.as_str().expect("type is a single name");
                if !type_matches(name, value) {
                    errors.push(format!("{path}: {value} is not of type {name}"));
                }
            }
            "enum" => {
                if !arg.as_array().expect("enum is a list").contains(value) {
                    errors.push(format!("{path}: {value} is not one of {arg}"));
                }
            }
            "properties" => {
                let Some(object) = value.as_object() else {
                    continue;
                };
                for (name, sub) in arg.as_object().expect("properties is an object") {
                    let Some(field) = object.get(name) else {
                        continue;
                    };
                    if sub.get("deprecated").is_some() {
                        errors.push(format!("{path}.{name}: deprecated field present"));
                    }
                    check(sub, field, &format!("{path}.{name}"), errors);
                }
            }
            "required" => {
                let Some(object) = value.as_object() else {
                    continue;
                };
                for name in arg.as_array().expect("required is a list") {
                    let name = name.as_str().expect("required names are strings");
                    if !object.contains_key(name) {
                        errors.push(format!("{path}: required field {name} missing"));
                    }
                }
            }
            "additionalProperties" => {
                let allowed = arg
                    .as_bool()
                    .expect("additionalProperties is a boolean here");
                let Some(object) = value.as_object() else {
                    continue;
                };
                if !allowed {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for name in object.keys() {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            errors.push(format!("{path}: field {name} not allowed"));
                        }
                    }
                }
            }
            "items" => {
                let Some(items) = value.as_array() else {
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    check(arg, item, &format!("{path}[{i}]"), errors);
                }
            }
            "allOf" => {
                for sub in arg.as_array().expect("allOf is a list") {
                    check(sub, value, path, errors);
                }
            }
            "if" => {
                let branch = if validate(arg, value).is_empty() {
                    "then"
                } else {
                    "else"
                };
                if let Some(sub) = schema.get(branch) {
                    check(sub, value, path, errors);
                }
            }
            "then" | "else" => {}
            "minLength" | "maxLength" => {
                let Some(s) = value.as_str() else { continue };
                let bound = arg.as_u64().expect("length bound is a number") as usize;
                let len = s.chars().count();
                let ok = if keyword == "minLength" {
                    len >= bound
                } else {
                    len <= bound
                };
                if !ok {
                    errors.push(format!("{path}: length {len} breaks {keyword} {bound}"));
                }
            }
            "deprecated" => {}
            k if ANNOTATIONS.contains(&k) => {}
            other => panic!("{path}: schema keyword {other:?} is outside the supported subset"),
        }
    }
}
