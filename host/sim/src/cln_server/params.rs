//! JSON-RPC errors and parameters as lightningd handles them: params may be
//! an object (by name) or an array (by position, in the order of the method's
//! schema); `null` means "not given"; unknown names and surplus positions are
//! refused with CLN's codes and messages.

use std::collections::BTreeMap;

use lnpolicy_core::ChannelId;
use lnpolicy_node::cln::parse_scid;
use lnpolicy_node::cln::wire::parse_amount;
use serde_json::{Value, json};

/// `JSONRPC2_INVALID_REQUEST`.
pub(super) const INVALID_REQUEST: i64 = -32600;
/// `JSONRPC2_METHOD_NOT_FOUND`.
pub(super) const METHOD_NOT_FOUND: i64 = -32601;
/// `JSONRPC2_INVALID_PARAMS`.
pub(super) const INVALID_PARAMS: i64 = -32602;
/// `LIGHTNINGD`: CLN's catch-all.
pub(super) const LIGHTNINGD: i64 = -1;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub(super) fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub(super) fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// CLN's `command_fail_badparam` wording.
    pub(super) fn bad_param(name: &str, what: &str, token: &Value) -> Self {
        RpcError::invalid_params(format!("{name}: {what}: invalid token '{token}'"))
    }

    pub(super) fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

/// A request's parameters by name, checked against the method's list.
#[derive(Debug, Default)]
pub(super) struct Params {
    values: BTreeMap<&'static str, Value>,
}

impl Params {
    /// Names `params` (object, array or absent) after `names`.
    pub(super) fn parse(
        names: &'static [&'static str],
        params: Option<&Value>,
    ) -> Result<Params, RpcError> {
        let mut values = BTreeMap::new();
        match params {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > names.len() {
                    return Err(RpcError::invalid_params(format!(
                        "too many parameters: got {}, expected {}",
                        items.len(),
                        names.len()
                    )));
                }
                for (name, item) in names.iter().zip(items) {
                    if !item.is_null() {
                        values.insert(*name, item.clone());
                    }
                }
            }
            Some(Value::Object(map)) => {
                for (key, item) in map {
                    let name = names.iter().find(|n| **n == key.as_str()).ok_or_else(|| {
                        RpcError::invalid_params(format!("unknown parameter: {key}"))
                    })?;
                    if !item.is_null() {
                        values.insert(*name, item.clone());
                    }
                }
            }
            Some(other) => {
                return Err(RpcError::new(
                    INVALID_REQUEST,
                    format!("Expected array or object for params, got {other}"),
                ));
            }
        }
        Ok(Params { values })
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub(super) fn string(&self, name: &str) -> Result<Option<&str>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| RpcError::bad_param(name, "should be a string", v))
            })
            .transpose()
    }

    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| RpcError::bad_param(name, "should be 'true' or 'false'", v))
            })
            .transpose()
    }

    /// CLN's `param_number`/`param_u64` accept a JSON number or a numeric string.
    pub(super) fn u64(&self, name: &str) -> Result<Option<u64>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        RpcError::bad_param(name, "should be an unsigned 64 bit integer", v)
                    })
            })
            .transpose()
    }

    pub(super) fn u32(&self, name: &str) -> Result<Option<u32>, RpcError> {
        let Some(v) = self.values.get(name) else {
            return Ok(None);
        };
        self.u64(name)?
            .map(|n| {
                u32::try_from(n).map_err(|_| RpcError::bad_param(name, "should be an integer", v))
            })
            .transpose()
    }

    /// An amount: integer msat or a string with a unit.
    pub(super) fn msat(&self, name: &str) -> Result<Option<u64>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => parse_amount(s).ok(),
                    _ => None,
                }
                .ok_or_else(|| RpcError::bad_param(name, "should be a millisatoshi amount", v))
            })
            .transpose()
    }

    pub(super) fn scid(&self, name: &str) -> Result<Option<ChannelId>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                v.as_str().and_then(|s| parse_scid(s).ok()).ok_or_else(|| {
                    RpcError::bad_param(name, "should be a short_channel_id of form NxNxN", v)
                })
            })
            .transpose()
    }

    pub(super) fn pubkey(&self, name: &str) -> Result<Option<&str>, RpcError> {
        self.values
            .get(name)
            .map(|v| {
                v.as_str()
                    .filter(|s| is_pubkey(s))
                    .ok_or_else(|| RpcError::bad_param(name, "should be a node id", v))
            })
            .transpose()
    }
}

/// 33-byte compressed key in hex. The curve point itself is not checked.
pub(super) fn is_pubkey(s: &str) -> bool {
    s.len() == 66
        && (s.starts_with("02") || s.starts_with("03"))
        && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["id", "feebase", "feeppm"];

    #[test]
    fn positional_and_named_params_agree() {
        let by_pos = Params::parse(NAMES, Some(&json!(["1x1x1", "1sat", null]))).unwrap();
        let by_name = Params::parse(NAMES, Some(&json!({"id": "1x1x1", "feebase": 1000}))).unwrap();
        for p in [&by_pos, &by_name] {
            assert_eq!(p.string("id").unwrap(), Some("1x1x1"));
            assert_eq!(p.msat("feebase").unwrap(), Some(1000));
            assert!(!p.has("feeppm"));
        }
    }

    #[test]
    fn refuses_unknown_and_surplus_params() {
        let e = Params::parse(NAMES, Some(&json!({"fee": 1}))).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS);
        assert_eq!(e.message, "unknown parameter: fee");
        let e = Params::parse(NAMES, Some(&json!([1, 2, 3, 4]))).unwrap_err();
        assert_eq!(e.message, "too many parameters: got 4, expected 3");
        let e = Params::parse(NAMES, Some(&json!("x"))).unwrap_err();
        assert_eq!(e.code, INVALID_REQUEST);
    }

    #[test]
    fn typed_accessors_explain_bad_values() {
        let p = Params::parse(
            NAMES,
            Some(&json!({"id": 5, "feeppm": "12", "feebase": -1})),
        )
        .unwrap();
        assert_eq!(p.u32("feeppm").unwrap(), Some(12));
        assert_eq!(
            p.string("id").unwrap_err().message,
            "id: should be a string: invalid token '5'"
        );
        assert_eq!(p.msat("feebase").unwrap_err().code, INVALID_PARAMS);
    }
}
