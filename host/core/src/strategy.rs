use serde::{Deserialize, Serialize};

/// A parameter value as the operator wrote it (after type checking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    Integer,
    Float,
    Boolean,
    Text,
    /// A confirmation target in blocks; the host fetches the chain fee estimate for it.
    #[serde(rename = "conf_target")]
    ConfTarget,
}

/// What a parameter is when the config leaves it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamDefault {
    /// The config must set it.
    Required,
    /// Not passed at all; the strategy decides what absence means.
    Optional,
    Value(ParamValue),
}

impl ParamDefault {
    /// The declared default value, if there is one.
    pub fn value(&self) -> Option<&ParamValue> {
        match self {
            ParamDefault::Value(value) => Some(value),
            ParamDefault::Required | ParamDefault::Optional => None,
        }
    }
}

/// One parameter a strategy declares in `info()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub description: String,
    pub default: ParamDefault,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: ParamValue,
}

/// A strategy's self-description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
}

/// One past change of a channel's outbound policy with what it earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeChange {
    pub at: u64,
    pub fee_ppm: u32,
    pub base_fee_msat: u32,
    pub inbound_fee_ppm: i32,
    pub revenue_msat: u64,
    pub hours: f64,
}

/// Fee levels of the routes into a peer other than ours: what its other counterparties charge
/// toward it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeePercentiles {
    pub channels: u32,
    pub p25_ppm: u32,
    pub p50_ppm: u32,
    pub p75_ppm: u32,
    pub p90_ppm: u32,
}
