//! Strategy parameters: the operator's values over the declared defaults, read through
//! typed getters whose errors name the parameter, because a strategy error is what the
//! operator sees when their config is wrong.

use std::collections::BTreeMap;

use crate::{Param, ParamDefault, ParamKind, ParamSpec, ParamValue};

/// The parameters of one `decide` call: the values passed by the host, plus the default of
/// every declared parameter that was not passed (optional ones stay absent: read them with
/// [`Params::is_set`] or the `opt_` getters).
///
/// Getters check the value's kind and, for numbers, the `min`/`max` declared in the
/// [`ParamSpec`], and return an `Err` naming the parameter otherwise, so a strategy can
/// simply use `?`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
    bounds: BTreeMap<String, (Option<f64>, Option<f64>)>,
}

impl Params {
    /// Combines the passed values with the defaults declared in `specs`; a passed value
    /// wins over the default, and a later duplicate over an earlier one.
    pub fn new(passed: Vec<Param>, specs: &[ParamSpec]) -> Self {
        let mut values = BTreeMap::new();
        let mut bounds = BTreeMap::new();
        for spec in specs {
            if let ParamDefault::Value(default) = &spec.default {
                values.insert(spec.name.clone(), default.clone());
            }
            bounds.insert(spec.name.clone(), (spec.min, spec.max));
        }
        for param in passed {
            values.insert(param.name, param.value);
        }
        Params { values, bounds }
    }

    /// The raw value of a parameter, if it was passed or has a default.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// Whether the parameter has a value (passed, or a declared default).
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// [`Params::u32`] for an optional parameter: `Ok(None)` when it was left out.
    pub fn opt_u32(&self, name: &str) -> Result<Option<u32>, String> {
        self.optional(name, Self::u32)
    }

    /// [`Params::f64`] for an optional parameter: `Ok(None)` when it was left out.
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>, String> {
        self.optional(name, Self::f64)
    }

    fn optional<T>(
        &self,
        name: &str,
        read: fn(&Self, &str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        if self.is_set(name) {
            read(self, name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An integer parameter that must fit in `u32` (ppm, msat base fees, block counts).
    pub fn u32(&self, name: &str) -> Result<u32, String> {
        let value = self.i64(name)?;
        u32::try_from(value).map_err(|_| {
            format!(
                "parameter `{name}`: {value} is out of range (0 to {})",
                u32::MAX
            )
        })
    }

    /// An integer parameter.
    pub fn i64(&self, name: &str) -> Result<i64, String> {
        match self.value(name)? {
            ParamValue::Integer(value) => {
                self.check_bounds(name, *value as f64)?;
                Ok(*value)
            }
            other => Err(wrong_kind(name, ParamKind::Integer, other)),
        }
    }

    /// A real-number parameter; an integer value is accepted and converted.
    pub fn f64(&self, name: &str) -> Result<f64, String> {
        let value = match self.value(name)? {
            ParamValue::Float(value) => *value,
            ParamValue::Integer(value) => *value as f64,
            other => return Err(wrong_kind(name, ParamKind::Float, other)),
        };
        if value.is_nan() {
            return Err(format!("parameter `{name}` is not a number"));
        }
        self.check_bounds(name, value)?;
        Ok(value)
    }

    /// A true/false parameter.
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.value(name)? {
            ParamValue::Boolean(value) => Ok(*value),
            other => Err(wrong_kind(name, ParamKind::Boolean, other)),
        }
    }

    /// A free-text parameter.
    pub fn text(&self, name: &str) -> Result<&str, String> {
        match self.value(name)? {
            ParamValue::Text(value) => Ok(value),
            other => Err(wrong_kind(name, ParamKind::Text, other)),
        }
    }

    fn value(&self, name: &str) -> Result<&ParamValue, String> {
        self.values.get(name).ok_or_else(|| {
            if self.bounds.contains_key(name) {
                format!("parameter `{name}` is required but was not set")
            } else {
                format!("parameter `{name}` is not declared in info() and was not set")
            }
        })
    }

    fn check_bounds(&self, name: &str, value: f64) -> Result<(), String> {
        let Some((min, max)) = self.bounds.get(name) else {
            return Ok(());
        };
        if let Some(min) = min
            && value < *min
        {
            return Err(format!(
                "parameter `{name}`: {value} is below the minimum {min}"
            ));
        }
        if let Some(max) = max
            && value > *max
        {
            return Err(format!(
                "parameter `{name}`: {value} is above the maximum {max}"
            ));
        }
        Ok(())
    }
}

fn wrong_kind(name: &str, expected: ParamKind, got: &ParamValue) -> String {
    let expected = match expected {
        ParamKind::Integer | ParamKind::ConfTarget => "an integer",
        ParamKind::Float => "a number",
        ParamKind::Boolean => "true or false",
        ParamKind::Text => "text",
    };
    let got = match got {
        ParamValue::Integer(value) => format!("the integer {value}"),
        ParamValue::Float(value) => format!("the number {value}"),
        ParamValue::Boolean(value) => format!("the boolean {value}"),
        ParamValue::Text(value) => format!("the text {value:?}"),
    };
    format!("parameter `{name}`: expected {expected}, got {got}")
}

impl Param {
    /// A parameter value as the host passes it, e.g. `Param::new("fee_ppm", 500)`.
    pub fn new(name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        Param {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl ParamSpec {
    /// An integer parameter with a default; chain [`ParamSpec::range`] to bound it.
    pub fn integer(name: &str, description: &str, default: i64) -> Self {
        Self::with_default(name, ParamKind::Integer, description, default.into())
    }

    /// A real-number parameter with a default; chain [`ParamSpec::range`] to bound it.
    pub fn float(name: &str, description: &str, default: f64) -> Self {
        Self::with_default(name, ParamKind::Float, description, default.into())
    }

    /// A true/false parameter with a default.
    pub fn boolean(name: &str, description: &str, default: bool) -> Self {
        Self::with_default(name, ParamKind::Boolean, description, default.into())
    }

    /// A free-text parameter with a default.
    pub fn text(name: &str, description: &str, default: &str) -> Self {
        Self::with_default(name, ParamKind::Text, description, default.into())
    }

    /// Sets the inclusive bounds of a numeric parameter.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// A confirmation target in blocks with a default; the host fetches the node's fee
    /// estimate for its value, read it with [`Host::chain_fee_rate`](crate::Host::chain_fee_rate).
    pub fn conf_target(name: &str, description: &str, default: u32) -> Self {
        Self::with_default(
            name,
            ParamKind::ConfTarget,
            description,
            i64::from(default).into(),
        )
    }

    /// Drops the default: the operator must set this parameter.
    pub fn required(mut self) -> Self {
        self.default = ParamDefault::Required;
        self
    }

    /// Drops the default: the parameter may be left out, and is then absent from
    /// [`Params`] (e.g. "keep the channel's current value").
    pub fn optional(mut self) -> Self {
        self.default = ParamDefault::Optional;
        self
    }

    fn with_default(name: &str, kind: ParamKind, description: &str, default: ParamValue) -> Self {
        ParamSpec {
            name: name.to_owned(),
            kind,
            description: description.to_owned(),
            default: ParamDefault::Value(default),
            min: None,
            max: None,
        }
    }
}

impl From<i64> for ParamValue {
    fn from(value: i64) -> Self {
        ParamValue::Integer(value)
    }
}

impl From<i32> for ParamValue {
    fn from(value: i32) -> Self {
        ParamValue::Integer(value.into())
    }
}

impl From<u32> for ParamValue {
    fn from(value: u32) -> Self {
        ParamValue::Integer(value.into())
    }
}

impl From<f64> for ParamValue {
    fn from(value: f64) -> Self {
        ParamValue::Float(value)
    }
}

impl From<bool> for ParamValue {
    fn from(value: bool) -> Self {
        ParamValue::Boolean(value)
    }
}

impl From<&str> for ParamValue {
    fn from(value: &str) -> Self {
        ParamValue::Text(value.to_owned())
    }
}

impl From<String> for ParamValue {
    fn from(value: String) -> Self {
        ParamValue::Text(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec::integer("fee_ppm", "Fee.", 100).range(0.0, 5000.0),
            ParamSpec::float("exponent", "Curve.", 1.0).range(0.1, 10.0),
            ParamSpec::boolean("enabled", "On or off.", true),
            ParamSpec::text("mode", "Mode.", "fast"),
            ParamSpec::integer("needed", "Required.", 0).required(),
            ParamSpec::integer("offset", "Signed.", -5),
        ]
    }

    #[test]
    fn defaults_fill_what_was_not_passed() {
        let params = Params::new(vec![Param::new("fee_ppm", 250)], &specs());
        assert_eq!(params.u32("fee_ppm"), Ok(250));
        assert_eq!(params.f64("exponent"), Ok(1.0));
        assert_eq!(params.bool("enabled"), Ok(true));
        assert_eq!(params.text("mode"), Ok("fast"));
        assert_eq!(params.i64("offset"), Ok(-5));
    }

    #[test]
    fn later_duplicates_win() {
        let passed = vec![Param::new("mode", "a"), Param::new("mode", "b")];
        assert_eq!(Params::new(passed, &specs()).text("mode"), Ok("b"));
    }

    #[test]
    fn missing_values_name_the_parameter() {
        let params = Params::new(vec![], &specs());
        let err = params.i64("needed").unwrap_err();
        assert!(
            err.contains("`needed`") && err.contains("required"),
            "{err}"
        );
        let err = params.bool("nowhere").unwrap_err();
        assert!(
            err.contains("`nowhere`") && err.contains("not declared"),
            "{err}"
        );
    }

    #[test]
    fn wrong_kinds_name_the_parameter_and_the_value() {
        let passed = vec![
            Param::new("fee_ppm", 1.5),
            Param::new("exponent", "steep"),
            Param::new("enabled", 1),
            Param::new("mode", false),
        ];
        let params = Params::new(passed, &specs());
        assert_eq!(
            params.u32("fee_ppm"),
            Err("parameter `fee_ppm`: expected an integer, got the number 1.5".into())
        );
        assert_eq!(
            params.f64("exponent"),
            Err("parameter `exponent`: expected a number, got the text \"steep\"".into())
        );
        assert!(params.bool("enabled").unwrap_err().contains("`enabled`"));
        assert!(params.text("mode").unwrap_err().contains("`mode`"));
    }

    #[test]
    fn floats_accept_integers() {
        let params = Params::new(vec![Param::new("exponent", 2)], &specs());
        assert_eq!(params.f64("exponent"), Ok(2.0));
    }

    #[test]
    fn declared_bounds_are_enforced() {
        let passed = vec![Param::new("fee_ppm", 6000), Param::new("exponent", 0.05)];
        let params = Params::new(passed, &specs());
        assert_eq!(
            params.u32("fee_ppm"),
            Err("parameter `fee_ppm`: 6000 is above the maximum 5000".into())
        );
        assert_eq!(
            params.f64("exponent"),
            Err("parameter `exponent`: 0.05 is below the minimum 0.1".into())
        );
        let nan = Params::new(vec![Param::new("exponent", f64::NAN)], &specs());
        assert!(nan.f64("exponent").unwrap_err().contains("not a number"));
    }

    #[test]
    fn u32_rejects_negative_and_oversized_integers() {
        let negative = Params::new(vec![Param::new("offset", -1)], &specs());
        assert!(
            negative
                .u32("offset")
                .unwrap_err()
                .contains("`offset`: -1 is out of range")
        );
        let huge = Params::new(vec![Param::new("offset", 1_i64 << 40)], &specs());
        assert!(huge.u32("offset").unwrap_err().contains("out of range"));
    }

    #[test]
    fn undeclared_passed_values_are_readable_without_bounds() {
        let params = Params::new(vec![Param::new("extra", 7)], &[]);
        assert_eq!(params.get("extra"), Some(&ParamValue::Integer(7)));
        assert_eq!(params.u32("extra"), Ok(7));
    }
}
