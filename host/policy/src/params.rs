//! Strategy parameters as an operator writes them (text), checked against
//! the schema the strategy declares in `info()` and completed with defaults.

use lnpolicy_core::{Param, ParamDefault, ParamKind, ParamSpec, ParamValue};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{name}` (this strategy takes: {known})")]
    Unknown { name: String, known: String },
    #[error("parameter `{name}` expects {expected}, got `{value}`")]
    Type {
        name: String,
        expected: &'static str,
        value: String,
    },
    #[error("parameter `{name}` = {value} is outside [{min}, {max}]")]
    Range {
        name: String,
        value: f64,
        min: String,
        max: String,
    },
    #[error("parameter `{name}` is required")]
    Missing { name: String },
    #[error("parameter `{name}` given twice")]
    Duplicate { name: String },
}

/// Parses `given` (name, text) against `specs`: unknown names, ill-typed
/// or out-of-range values and missing required parameters are errors;
/// parameters left out take their declared default, and optional ones left
/// out are not passed at all.
pub fn resolve(specs: &[ParamSpec], given: &[(String, String)]) -> Result<Vec<Param>, ParamError> {
    for (i, (name, _)) in given.iter().enumerate() {
        if given[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(ParamError::Duplicate { name: name.clone() });
        }
        if !specs.iter().any(|spec| &spec.name == name) {
            let known = specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>();
            return Err(ParamError::Unknown {
                name: name.clone(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
    }
    let mut params = Vec::with_capacity(specs.len());
    for spec in specs {
        let value = match (
            given.iter().find(|(name, _)| name == &spec.name),
            &spec.default,
        ) {
            (Some((_, text)), _) => parse(spec, text)?,
            (None, ParamDefault::Value(value)) => value.clone(),
            (None, ParamDefault::Optional) => continue,
            (None, ParamDefault::Required) => {
                return Err(ParamError::Missing {
                    name: spec.name.clone(),
                });
            }
        };
        params.push(Param {
            name: spec.name.clone(),
            value,
        });
    }
    Ok(params)
}

/// The confirmation targets `params` name through `conf-target` parameters: the on-chain
/// fee estimates the host must fetch before the call.
pub fn conf_targets(specs: &[ParamSpec], params: &[Param]) -> Vec<u32> {
    params
        .iter()
        .filter(|param| {
            specs
                .iter()
                .any(|spec| spec.name == param.name && spec.kind == ParamKind::ConfTarget)
        })
        .filter_map(|param| match param.value {
            ParamValue::Integer(blocks) => u32::try_from(blocks).ok(),
            _ => None,
        })
        .collect()
}

fn parse(spec: &ParamSpec, text: &str) -> Result<ParamValue, ParamError> {
    let text = text.trim();
    let type_error = |expected| ParamError::Type {
        name: spec.name.clone(),
        expected,
        value: text.to_owned(),
    };
    let value = match spec.kind {
        ParamKind::Integer => ParamValue::Integer(
            text.replace('_', "")
                .parse()
                .map_err(|_| type_error("a whole number"))?,
        ),
        ParamKind::ConfTarget => ParamValue::Integer(
            text.replace('_', "")
                .parse::<u32>()
                .map(i64::from)
                .map_err(|_| type_error("a number of blocks"))?,
        ),
        ParamKind::Float => ParamValue::Float(
            text.replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| type_error("a number"))?,
        ),
        ParamKind::Boolean => ParamValue::Boolean(match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => return Err(type_error("true or false")),
        }),
        ParamKind::Text => ParamValue::Text(text.to_owned()),
    };
    let number = match value {
        ParamValue::Integer(i) => i as f64,
        ParamValue::Float(f) => f,
        _ => return Ok(value),
    };
    let below = spec.min.is_some_and(|min| number < min);
    let above = spec.max.is_some_and(|max| number > max);
    if below || above {
        let bound = |b: Option<f64>| b.map_or("unbounded".to_owned(), |b| b.to_string());
        return Err(ParamError::Range {
            name: spec.name.clone(),
            value: number,
            min: bound(spec.min),
            max: bound(spec.max),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: ParamKind, default: ParamDefault) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind,
            description: String::new(),
            default,
            min: Some(0.0),
            max: Some(5000.0),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fills_defaults_and_parses_types() {
        let specs = [
            spec(
                "max_fee_ppm",
                ParamKind::Integer,
                ParamDefault::Value(ParamValue::Integer(1000)),
            ),
            spec(
                "exponent",
                ParamKind::Float,
                ParamDefault::Value(ParamValue::Float(1.0)),
            ),
            spec(
                "enabled",
                ParamKind::Boolean,
                ParamDefault::Value(ParamValue::Boolean(false)),
            ),
        ];
        let params = resolve(&specs, &given(&[("exponent", "2"), ("enabled", "yes")])).unwrap();
        assert_eq!(params[0].value, ParamValue::Integer(1000));
        assert_eq!(params[1].value, ParamValue::Float(2.0));
        assert_eq!(params[2].value, ParamValue::Boolean(true));
        let params = resolve(&specs, &given(&[("max_fee_ppm", "2_500")])).unwrap();
        assert_eq!(params[0].value, ParamValue::Integer(2500));
    }

    #[test]
    fn rejects_bad_input_with_the_parameter_named() {
        let specs = [spec(
            "max_fee_ppm",
            ParamKind::Integer,
            ParamDefault::Required,
        )];
        let unknown = resolve(&specs, &given(&[("max_fee", "1")])).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown parameter `max_fee`"),
            "{unknown}"
        );
        assert!(unknown.to_string().contains("max_fee_ppm"), "{unknown}");
        let typed = resolve(&specs, &given(&[("max_fee_ppm", "lots")])).unwrap_err();
        assert!(matches!(typed, ParamError::Type { .. }), "{typed}");
        let range = resolve(&specs, &given(&[("max_fee_ppm", "9000")])).unwrap_err();
        assert!(matches!(range, ParamError::Range { .. }), "{range}");
        let missing = resolve(&specs, &[]).unwrap_err();
        assert_eq!(
            missing,
            ParamError::Missing {
                name: "max_fee_ppm".into()
            }
        );
        let twice = resolve(
            &specs,
            &given(&[("max_fee_ppm", "1"), ("max_fee_ppm", "2")]),
        );
        assert!(matches!(twice, Err(ParamError::Duplicate { .. })));
    }

    #[test]
    fn optional_parameters_left_out_are_not_passed() {
        let specs = [
            spec("fee_ppm", ParamKind::Integer, ParamDefault::Optional),
            spec("numblocks", ParamKind::ConfTarget, ParamDefault::Optional),
        ];
        assert!(resolve(&specs, &[]).unwrap().is_empty());
        let params = resolve(&specs, &given(&[("fee_ppm", "7"), ("numblocks", "12")])).unwrap();
        assert_eq!(params.len(), 2);
        assert_eq!(conf_targets(&specs, &params), vec![12]);
        let negative = resolve(&specs, &given(&[("numblocks", "-1")])).unwrap_err();
        assert!(
            negative.to_string().contains("a number of blocks"),
            "{negative}"
        );
    }
}
