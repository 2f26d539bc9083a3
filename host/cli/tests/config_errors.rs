//! The config error corpus through the command line: `lnpolicy -c FILE --check` on every
//! broken config prints exactly one error naming the file and line, and exits 1. The corpus
//! is the parser's (host/policy/tests/fixtures/configs/errors) plus the mistakes only the
//! loaded strategies reveal (host/cli/tests/fixtures/errors). Each fixture states its error
//! on its first lines: `# expect: LINE: MESSAGE` (`{dir}` = the fixture's folder,
//! `{builtins}` = the built-in strategies' names), and `# expect-file: PATH` when the error
//! is in another file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `lnpolicy -c FILE --check` with the built-in strategies and those of `strategies`.
fn check(file: &Path, strategies: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .arg("-c")
        .arg(file)
        .arg("--check")
        .arg("--strategies")
        .arg(strategies)
        .env_remove("CONFIG_LOCATION")
        .output()
        .unwrap()
}

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ini"))
        .collect();
    files.sort();
    files
}

fn expected(path: &Path) -> String {
    let dir = path.parent().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut file = path.to_path_buf();
    let mut message = None;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(relative) = line.strip_prefix("# expect-file: ") {
            file = dir.join(relative);
        }
        if let Some(m) = line.strip_prefix("# expect: ") {
            let builtins = lnpolicy_builtins::names().collect::<Vec<_>>().join(", ");
            message = Some(
                m.replace("{dir}", &dir.display().to_string())
                    .replace("{builtins}", &builtins),
            );
        }
    }
    format!(
        "error: {}:{}",
        file.display(),
        message.expect("an expect line")
    )
}

#[test]
fn every_broken_config_gives_one_located_error_and_exit_1() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let parser = root
        .join("../policy/tests/fixtures/configs/errors")
        .canonicalize()
        .unwrap();
    let strategies = root.join("tests/fixtures/errors").canonicalize().unwrap();
    let corpus: Vec<PathBuf> = fixtures(&parser)
        .into_iter()
        .chain(fixtures(&strategies))
        .collect();
    assert!(corpus.len() >= 30, "{corpus:?}");
    let empty = tempfile::tempdir().unwrap();
    for path in corpus {
        let output = check(&path, empty.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            path.display()
        );
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: ") && !l.contains("error(s) in"))
            .collect();
        assert_eq!(errors, [expected(&path)], "{}: {stderr}", path.display());
    }
}

#[test]
fn the_generated_example_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("charge.config");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
            .args(args)
            .env_remove("CONFIG_LOCATION")
            .output()
            .unwrap()
    };
    let path = file.to_str().unwrap();
    let written = run(&["generate-config", path]);
    assert!(written.status.success(), "{written:?}");
    let again = run(&["generate-config", path]);
    assert_eq!(again.status.code(), Some(1), "never overwrites");
    let checked = run(&[
        "-c",
        path,
        "--check",
        "--strategies",
        dir.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(stdout.contains("OK (11 sections)"), "{stdout}");
}

/// charge-lnd merges a matching non-final section's keys into the final one, so a required
/// parameter set there is not missing at load (a channel no such section matches is reported
/// when it is decided). The same section without the one above is still an error.
#[test]
fn a_required_parameter_set_by_a_section_above_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let check_text = |text: &str| {
        let file = dir.path().join("charge.config");
        std::fs::write(&file, text).unwrap();
        check(&file, dir.path())
    };
    let sections = "\
[big]
chan.min_capacity = 1_000_000
strategy = proportional

[default]
strategy = proportional
";
    let bounds = "[bounds]\nmin_fee_ppm = 10\nmax_fee_ppm = 500\n\n";
    let with_bounds = check_text(&format!("{bounds}{sections}"));
    assert!(
        with_bounds.status.success(),
        "{}",
        String::from_utf8_lossy(&with_bounds.stderr)
    );
    let half = check_text(&format!("[bounds]\nmin_fee_ppm = 10\n\n{sections}"));
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert_eq!(
        half.status.code(),
        Some(1),
        "max_fee_ppm is set nowhere: {stderr}"
    );
    assert!(
        stderr.contains("parameter `max_fee_ppm` is required"),
        "{stderr}"
    );
    let bad = check_text(&format!(
        "[bounds]\nmin_fee_ppm = 10\nmax_fee_ppm = abc\n\n{sections}"
    ));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("charge.config:3: key max_fee_ppm"),
        "the value is checked where it is written: {stderr}"
    );
    let without = check_text(sections);
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert_eq!(without.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "charge.config:1: key min_fee_ppm: strategy `proportional`: parameter `min_fee_ppm` is required"
        ),
        "{stderr}"
    );
}

/// A non-final section's key that is neither a property nor a parameter of any strategy the
/// config uses cannot do anything: `--check` names it (charge-lnd ignores it silently), and
/// the config still loads, as charge-lnd's would.
#[test]
fn a_key_without_effect_in_a_non_final_section_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("charge.config");
    // `--check` of `text`, which must pass: its notes of keys without effect.
    let typos = |text: &str| -> Vec<String> {
        std::fs::write(&file, text).unwrap();
        let output = check(&file, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        stderr
            .lines()
            .filter(|l| l.contains("no strategy of this config takes"))
            .map(str::to_owned)
            .collect()
    };
    let notes =
        typos("[mydefaults]\nbase_fee_msta = 0\nfee_ppm = 300\n\n[default]\nstrategy = static\n");
    assert_eq!(
        notes.len(),
        1,
        "only the typo, not static's fee_ppm: {notes:?}"
    );
    assert!(
        notes[0].starts_with(&format!("note: {}:2: key base_fee_msta:", file.display())),
        "{notes:?}"
    );

    // With a use_config include, the included file's strategies count too, and the typo is
    // still named.
    std::fs::write(
        dir.path().join("cheap.config"),
        "[default]\nstrategy = proportional\nmin_fee_ppm = 10\nmax_fee_ppm = 100\n",
    )
    .unwrap();
    let notes = typos(
        "[mydefaults]\nbase_fee_msta = 0\nmax_fee_ppm = 300\n\n\
         [cheap]\nchan.private = true\nstrategy = use_config\nconfig_file = cheap.config\n\n\
         [default]\nstrategy = static\nfee_ppm = 1\n",
    );
    assert_eq!(notes.len(), 1, "max_fee_ppm is proportional's: {notes:?}");
    assert!(notes[0].contains(":2: key base_fee_msta:"), "{notes:?}");
}

/// charge-lnd sends any fee it is given; lnpolicy's guard caps it, and `--check` says where.
#[test]
fn a_fee_above_the_guard_ceiling_is_noted_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("charge.config");
    std::fs::write(&file, "[default]\nstrategy = static\nfee_ppm = 75000\n").unwrap();
    let output = check(&file, dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "a note, not an error: {stderr}");
    assert!(
        stderr.contains(&format!(
            "note: {}:3: key fee_ppm: 75000 is above guard.max_fee_ppm (50000)",
            file.display()
        )),
        "{stderr}"
    );
}
