//! configparser's `ExtendedInterpolation`, the way charge-lnd configures it: `${key}` is a key
//! of the section the value is read from (its own keys, then `[DEFAULT]`'s), `${section:key}`
//! a key of another section (key lower-cased, section name as written), `$$` a literal `$`.
//! Referenced values are interpolated in turn, in the context of their own section.
//!
//! configparser interpolates lazily, when a value is read; charge-lnd reads every key of a
//! matching section, so a bad reference breaks at run time for some channels. Here every value
//! every section sees is interpolated when the config is loaded, so the mistake is found by
//! `--check` instead.

use std::path::Path;

use super::errors::{ConfigError, ErrorKind};
use super::ini::{DEFAULT_SECTION, RawEntry, RawIni};

/// configparser's `MAX_INTERPOLATION_DEPTH`: deeper nesting is almost always a loop.
const MAX_DEPTH: usize = 10;

/// A key of one section after `[DEFAULT]` merging and interpolation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    /// The line the key is written on (in `[DEFAULT]` when inherited).
    pub line: u32,
    /// Whether it comes from `[DEFAULT]`.
    pub inherited: bool,
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    Defaults,
    Section(usize),
}

/// The keys section `index` of `ini` sees (its own in file order, then the `[DEFAULT]` ones it
/// does not override), interpolated. A value that cannot be interpolated is reported and left
/// out.
pub(crate) fn section_entries(
    ini: &RawIni,
    index: usize,
    file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Vec<Entry> {
    let section = &ini.sections[index];
    let own = section.entries.iter().map(|e| (e, false));
    let inherited = ini
        .defaults
        .iter()
        .filter(|d| !section.entries.iter().any(|e| e.key == d.key))
        .map(|e| (e, true));
    own.chain(inherited)
        .filter_map(|(entry, inherited)| {
            match expand(ini, Scope::Section(index), &entry.value, 1) {
                Ok(value) => Some(Entry {
                    key: entry.key.clone(),
                    value,
                    line: entry.line,
                    inherited,
                }),
                Err(mut detail) => {
                    if inherited {
                        detail.push_str(&format!(" (as inherited by [{}])", section.name));
                    }
                    report_once(errors, file, entry, detail);
                    None
                }
            }
        })
        .collect()
}

/// `[DEFAULT]`'s key `key`, interpolated in `[DEFAULT]`'s own context: for a node-wide key,
/// which is read once for the file and never by a section.
pub(crate) fn default_entry(
    ini: &RawIni,
    key: &str,
    file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<Entry> {
    let entry = ini.defaults.iter().find(|e| e.key == key)?;
    match expand(ini, Scope::Defaults, &entry.value, 1) {
        Ok(value) => Some(Entry {
            key: entry.key.clone(),
            value,
            line: entry.line,
            inherited: false,
        }),
        Err(detail) => {
            report_once(errors, file, entry, detail);
            None
        }
    }
}

/// A `[DEFAULT]` value that cannot be interpolated is reported for the first section it fails
/// in only: one mistake, one error.
fn report_once(errors: &mut Vec<ConfigError>, file: &Path, entry: &RawEntry, detail: String) {
    let reported = errors.iter().any(|e| {
        e.file == file
            && e.line == Some(entry.line)
            && e.key.as_deref() == Some(entry.key.as_str())
            && matches!(e.kind, ErrorKind::Interpolation { .. })
    });
    if !reported {
        errors.push(ConfigError::new(
            file,
            entry.line,
            Some(&entry.key),
            ErrorKind::Interpolation { detail },
        ));
    }
}

fn lookup<'a>(ini: &'a RawIni, scope: Scope, key: &str) -> Option<&'a RawEntry> {
    let own = match scope {
        Scope::Defaults => None,
        Scope::Section(i) => ini.sections[i].entries.iter().find(|e| e.key == key),
    };
    own.or_else(|| ini.defaults.iter().find(|e| e.key == key))
}

fn scope_named(ini: &RawIni, name: &str) -> Option<Scope> {
    if name == DEFAULT_SECTION {
        return Some(Scope::Defaults);
    }
    ini.sections
        .iter()
        .position(|s| s.name == name)
        .map(Scope::Section)
}

fn scope_name(ini: &RawIni, scope: Scope) -> &str {
    match scope {
        Scope::Defaults => DEFAULT_SECTION,
        Scope::Section(i) => &ini.sections[i].name,
    }
}

fn expand(ini: &RawIni, scope: Scope, raw: &str, depth: usize) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body) = rest.strip_prefix('{') else {
            return Err(format!(
                "`$` must be followed by `{{` (a ${{reference}}) or by `$` (a literal $), in {raw:?}"
            ));
        };
        let reference = match body.find('}') {
            Some(end) if end > 0 => &body[..end],
            _ => {
                return Err(format!(
                    "unterminated or empty ${{...}} reference in {raw:?}"
                ));
            }
        };
        rest = &body[reference.len() + 1..];
        if depth > MAX_DEPTH {
            return Err(format!(
                "${{{reference}}}: references nest deeper than {MAX_DEPTH} levels (a reference loop?)"
            ));
        }
        let (target, key) = match reference.split(':').collect::<Vec<_>>()[..] {
            [key] => (scope, key.to_lowercase()),
            [section, key] => {
                let target = scope_named(ini, section).ok_or_else(|| {
                    format!("${{{reference}}} refers to section [{section}], which does not exist")
                })?;
                (target, key.to_lowercase())
            }
            _ => {
                return Err(format!(
                    "${{{reference}}}: more than one `:` in a reference"
                ));
            }
        };
        let entry = lookup(ini, target, &key).ok_or_else(|| {
            format!(
                "${{{reference}}} refers to key {key}, which section [{}] does not have",
                scope_name(ini, target)
            )
        })?;
        out.push_str(&expand(ini, target, &entry.value, depth + 1)?);
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini;

    fn entries(text: &str, section: usize) -> (Vec<Entry>, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let raw = ini::read(Path::new("t.ini"), text, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let entries = section_entries(&raw, section, Path::new("t.ini"), &mut errors);
        (entries, errors)
    }

    fn get<'a>(entries: &'a [Entry], key: &str) -> &'a str {
        &entries.iter().find(|e| e.key == key).unwrap().value
    }

    #[test]
    fn resolves_local_default_and_cross_section_references() {
        let text = "[DEFAULT]\nbase = 1_000\n[vars]\nHigh = 2000\n\
                    [a]\nlow = 10\nfee = ${LOW}\nother = ${vars:HIGH}\nb = ${base}\nlit = 5$$\n";
        let (entries, errors) = entries(text, 1);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(get(&entries, "fee"), "10");
        assert_eq!(get(&entries, "other"), "2000");
        assert_eq!(get(&entries, "b"), "1_000");
        assert_eq!(get(&entries, "lit"), "5$");
        let inherited = entries.iter().find(|e| e.key == "base").unwrap();
        assert!(inherited.inherited);
        assert_eq!(inherited.line, 2);
    }

    #[test]
    fn default_values_are_interpolated_in_the_inheriting_section() {
        let text = "[DEFAULT]\nfee = ${level}\n[a]\nlevel = 5\n[b]\nlevel = 7\n";
        assert_eq!(get(&entries(text, 0).0, "fee"), "5");
        assert_eq!(get(&entries(text, 1).0, "fee"), "7");
    }

    #[test]
    fn nested_references_resolve_in_their_own_section() {
        let text = "[x]\nk = 3\nj = ${k}0\n[a]\nk = 9\nv = ${x:j}\n";
        assert_eq!(get(&entries(text, 1).0, "v"), "30");
    }

    #[test]
    fn bad_references_are_errors_at_the_key() {
        for (text, needle) in [
            ("[a]\nv = ${nope}\n", "which section [a] does not have"),
            ("[a]\nv = ${zz:k}\n", "section [zz], which does not exist"),
            ("[a]\nv = $x\n", "must be followed by"),
            ("[a]\nv = ${k\n", "unterminated"),
            ("[a]\nv = ${}\n", "unterminated or empty"),
            ("[a]\nv = ${a:b:c}\n", "more than one"),
            ("[a]\nv = x${v}\n", "deeper than 10"),
        ] {
            let (_, errors) = entries(text, 0);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert_eq!(errors[0].line, Some(2), "{text}");
            assert_eq!(errors[0].key.as_deref(), Some("v"), "{text}");
            let message = errors[0].to_string();
            assert!(message.contains(needle), "{text}: {message}");
        }
    }
}
