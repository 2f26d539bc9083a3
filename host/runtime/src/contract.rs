//! Which components this host accepts: the contract version they were built
//! against and the imports they ask for.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::LoadError;

/// The WIT package every guest is built against.
pub const CONTRACT_PACKAGE: &str = "lnpolicy:strategy";
/// The contract version this host implements (`package lnpolicy:strategy@...` in `wit/`).
pub const CONTRACT_VERSION: &str = "0.3.1";

const STRATEGY_EXPORT: &str = "lnpolicy:strategy/strategy@";
const DIVIDEND_EXPORT: &str = "lnpolicy:strategy/dividend-formula@";

/// Import namespaces a guest may use. `wasi:cli` and `wasi:io` carry stdio
/// (stdout discarded, stderr captured); clocks show the cycle's time and
/// random is seeded, so both stay deterministic. Files, sockets and HTTP are
/// refused at load time.
const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "lnpolicy:strategy/",
];

/// What the contract check found in a component.
#[derive(Debug, Clone)]
pub(crate) struct ContractInfo {
    pub version: String,
}

pub(crate) fn check_component(
    engine: &Engine,
    component: &Component,
) -> Result<ContractInfo, LoadError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if !ALLOWED_IMPORTS
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            return Err(LoadError::ForbiddenImport {
                import: name.to_owned(),
            });
        }
        if let Some(version) = name
            .strip_prefix("lnpolicy:strategy/")
            .and_then(|rest| rest.split_once('@'))
            .map(|(_, v)| v)
        {
            ensure_compatible(version, name)?;
        }
    }
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    if let Some(version) = exports
        .iter()
        .find_map(|name| name.strip_prefix(STRATEGY_EXPORT))
    {
        ensure_compatible(version, &format!("{STRATEGY_EXPORT}{version}"))?;
        return Ok(ContractInfo {
            version: version.to_owned(),
        });
    }
    if exports.iter().any(|name| name.starts_with(DIVIDEND_EXPORT)) {
        return Err(LoadError::WrongWorld {
            found: "dividend".into(),
        });
    }
    Err(LoadError::MissingExport { found: exports })
}

fn ensure_compatible(version: &str, item: &str) -> Result<(), LoadError> {
    if compatible(version, CONTRACT_VERSION) {
        Ok(())
    } else {
        Err(LoadError::IncompatibleContract {
            item: item.to_owned(),
            found: version.to_owned(),
            supported: CONTRACT_VERSION.to_owned(),
        })
    }
}

/// Semver compatibility as cargo reads it: same major, and below 1.0 the same minor.
fn compatible(found: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(ours)) {
        (Some((0, found_minor)), Some((0, our_minor))) => found_minor == our_minor,
        (Some((found_major, _)), Some((our_major, _))) => found_major == our_major,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn semver_rules() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.7", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("0.9.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        assert!(!compatible("garbage", "0.1.0"));
    }
}
