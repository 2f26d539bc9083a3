//! A reader for the INI dialect of Python's `configparser.ConfigParser` with its default
//! settings, which is what charge-lnd parses its config with. Configs written for charge-lnd
//! must read the same here, quirks included:
//! - `=` and `:` both separate a key from its value, the first of either wins;
//! - keys are lower-cased, section names kept as written;
//! - a line whose first non-blank character is `#` or `;` is a comment, wherever it is (also
//!   between the lines of a multi-line value); there are no inline comments;
//! - a line indented deeper than the line of the current key continues its value, even after
//!   blank lines, which stay inside the value (trailing ones are dropped);
//! - `[DEFAULT]` may appear several times (its keys accumulate); any other repeated section,
//!   and any key repeated within a section, is an error.
//!
//! Values come out raw; interpolation is the next step (`interpolate.rs`).

use std::path::Path;

use super::errors::{ConfigError, ErrorKind};

/// The name of the section whose keys every other section inherits.
pub(crate) const DEFAULT_SECTION: &str = "DEFAULT";

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEntry {
    /// Lower-cased.
    pub key: String,
    /// Continuation lines joined with `\n`, trailing blank lines dropped, not interpolated.
    pub value: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSection {
    pub name: String,
    pub line: u32,
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RawIni {
    pub defaults: Vec<RawEntry>,
    pub sections: Vec<RawSection>,
}

/// Where the lines being read go.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Defaults,
    Section(usize),
    /// The body of a section that could not be accepted (a duplicate, or keys before any
    /// header): still read, so that one mistake yields one error and not one per key.
    Discard,
}

struct EntryBuilder {
    key: String,
    lines: Vec<String>,
    line: u32,
}

impl EntryBuilder {
    fn finish(self) -> RawEntry {
        RawEntry {
            key: self.key,
            value: self.lines.join("\n").trim_end().to_owned(),
            line: self.line,
        }
    }
}

#[derive(Default)]
struct Builder {
    defaults: Vec<EntryBuilder>,
    sections: Vec<(String, u32, Vec<EntryBuilder>)>,
    discard: Vec<EntryBuilder>,
}

impl Builder {
    fn entries(&mut self, target: Target) -> &mut Vec<EntryBuilder> {
        match target {
            Target::Defaults => &mut self.defaults,
            Target::Section(i) => &mut self.sections[i].2,
            Target::Discard => &mut self.discard,
        }
    }

    fn section_name(&self, target: Target) -> &str {
        match target {
            Target::Defaults => DEFAULT_SECTION,
            Target::Section(i) => &self.sections[i].0,
            Target::Discard => "",
        }
    }
}

/// Reads `text` (the contents of `file`), appending every problem found to `errors` and
/// carrying on, so that `--check` can list all of them in one run.
pub(crate) fn read(file: &Path, text: &str, errors: &mut Vec<ConfigError>) -> RawIni {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut target: Option<Target> = None;
    // The entry continuation lines go to: (target, index in its entries).
    let mut current: Option<(Target, usize)> = None;
    let mut indent_level = 0usize;
    let mut reported_key_before_section = false;

    for (index, raw_line) in text.lines().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let value = raw_line.trim();
        if value.starts_with('#') || value.starts_with(';') {
            continue;
        }
        if value.is_empty() {
            if let Some((t, i)) = current {
                builder.entries(t)[i].lines.push(String::new());
            }
            continue;
        }
        let indent = raw_line.chars().take_while(|c| c.is_whitespace()).count();
        if let Some((t, i)) = current
            && indent > indent_level
        {
            builder.entries(t)[i].lines.push(value.to_owned());
            continue;
        }
        indent_level = indent;

        if let Some(name) = section_header(value) {
            current = None;
            target = Some(open_section(&mut builder, name, file, line_no, errors));
            continue;
        }
        let Some(t) = target else {
            if !reported_key_before_section {
                reported_key_before_section = true;
                errors.push(ConfigError::new(
                    file,
                    line_no,
                    None,
                    ErrorKind::KeyBeforeSection,
                ));
            }
            target = Some(Target::Discard);
            current = None;
            continue;
        };
        let Some(delimiter) = value.find(['=', ':']) else {
            errors.push(ConfigError::new(
                file,
                line_no,
                None,
                ErrorKind::Syntax {
                    line: value.to_owned(),
                },
            ));
            continue;
        };
        let key = value[..delimiter].trim_end().to_lowercase();
        if key.is_empty() {
            errors.push(ConfigError::new(file, line_no, None, ErrorKind::EmptyKey));
            current = None;
            continue;
        }
        let entry = EntryBuilder {
            key,
            lines: vec![value[delimiter + 1..].trim().to_owned()],
            line: line_no,
        };
        let section = builder.section_name(t).to_owned();
        let entries = builder.entries(t);
        if let Some(first) = entries.iter().find(|e| e.key == entry.key) {
            if t != Target::Discard {
                errors.push(ConfigError::new(
                    file,
                    line_no,
                    Some(&entry.key),
                    ErrorKind::DuplicateKey {
                        section,
                        first_line: first.line,
                    },
                ));
            }
            // Its continuation lines belong to the rejected entry, not to the first one.
            builder.discard.push(entry);
            current = Some((Target::Discard, builder.discard.len() - 1));
        } else {
            entries.push(entry);
            current = Some((t, entries.len() - 1));
        }
    }

    RawIni {
        defaults: builder
            .defaults
            .into_iter()
            .map(EntryBuilder::finish)
            .collect(),
        sections: builder
            .sections
            .into_iter()
            .map(|(name, line, entries)| RawSection {
                name,
                line,
                entries: entries.into_iter().map(EntryBuilder::finish).collect(),
            })
            .collect(),
    }
}

/// configparser's `\[(?P<header>.+)\]` matched at the start of the stripped line: the name
/// runs to the last `]`, and anything after it is ignored.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

fn open_section(
    builder: &mut Builder,
    name: &str,
    file: &Path,
    line: u32,
    errors: &mut Vec<ConfigError>,
) -> Target {
    if name == DEFAULT_SECTION {
        return Target::Defaults;
    }
    if let Some((_, first_line, _)) = builder.sections.iter().find(|(n, _, _)| n == name) {
        errors.push(ConfigError::new(
            file,
            line,
            None,
            ErrorKind::DuplicateSection {
                name: name.to_owned(),
                first_line: *first_line,
            },
        ));
        return Target::Discard;
    }
    builder.sections.push((name.to_owned(), line, Vec::new()));
    Target::Section(builder.sections.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (RawIni, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let ini = read(Path::new("t.ini"), text, &mut errors);
        (ini, errors)
    }

    fn value<'a>(ini: &'a RawIni, section: &str, key: &str) -> Option<&'a str> {
        ini.sections
            .iter()
            .find(|s| s.name == section)?
            .entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    #[test]
    fn reads_keys_with_either_delimiter_lower_cased() {
        let (ini, errors) = parse("[Sec]\nChan.Min_Ratio = 0.5\nnode.id: 02ab\nchan.id = 1:2:3\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ini.sections[0].name, "Sec");
        assert_eq!(value(&ini, "Sec", "chan.min_ratio"), Some("0.5"));
        assert_eq!(value(&ini, "Sec", "node.id"), Some("02ab"));
        assert_eq!(value(&ini, "Sec", "chan.id"), Some("1:2:3"));
    }

    #[test]
    fn continuation_lines_comments_and_blank_lines_follow_configparser() {
        let text = "[a]\nnode.id = x,\n  y,\n  # not part of it\n\n  z\n\nstrategy = static\n";
        let (ini, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(value(&ini, "a", "node.id"), Some("x,\ny,\n\nz"));
        assert_eq!(value(&ini, "a", "strategy"), Some("static"));
        assert_eq!(ini.sections[0].entries[1].line, 8);
    }

    #[test]
    fn inline_hash_is_part_of_the_value() {
        let (ini, _) = parse("[a]\nfee_ppm = 10 # ten\n");
        assert_eq!(value(&ini, "a", "fee_ppm"), Some("10 # ten"));
    }

    #[test]
    fn default_sections_accumulate_and_other_duplicates_are_errors() {
        let text = "[DEFAULT]\na = 1\n[x]\nb = 2\n[DEFAULT]\nc = 3\n[x]\nd = 4\nd = 5\n";
        let (ini, errors) = parse(text);
        assert_eq!(ini.defaults.len(), 2);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, Some(7));
        assert_eq!(
            errors[0].kind,
            ErrorKind::DuplicateSection {
                name: "x".into(),
                first_line: 3
            }
        );
        assert_eq!(value(&ini, "x", "d"), None);
    }

    #[test]
    fn duplicate_key_keeps_the_first_value() {
        let (ini, errors) = parse("[a]\nFee_ppm = 1\nfee_ppm = 2\n  3\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key.as_deref(), Some("fee_ppm"));
        assert_eq!(value(&ini, "a", "fee_ppm"), Some("1"));
    }

    #[test]
    fn reports_keys_before_any_section_once() {
        let (_, errors) = parse("a = 1\nb = 2\n[s]\nc = 3\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::KeyBeforeSection);
        assert_eq!(errors[0].line, Some(1));
    }

    #[test]
    fn a_line_without_delimiter_is_a_syntax_error() {
        let (_, errors) = parse("[a]\nstrategy static\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(2));
        assert!(matches!(errors[0].kind, ErrorKind::Syntax { .. }));
    }

    #[test]
    fn header_name_runs_to_the_last_bracket() {
        assert_eq!(section_header("[a]"), Some("a"));
        assert_eq!(section_header("[a]b]"), Some("a]b"));
        assert_eq!(section_header("[]"), None);
        assert_eq!(section_header("a]"), None);
    }
}
