//! The config as files: configparser syntax, interpolation, `[DEFAULT]`, `file://` lists,
//! `use_config` includes, the error corpus in `fixtures/configs/errors/` and the notes
//! `--check` prints.

use std::path::{Path, PathBuf};

use lnpolicy_policy::config::{Config, ErrorKind, NoteKind, Test, check};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/configs")
        .canonicalize()
        .unwrap()
}

fn parse(text: &str) -> Config {
    Config::parse("t.ini", text).unwrap_or_else(|e| panic!("{e}"))
}

fn pubkey(i: u8) -> String {
    format!("0{}{}", 2 + i % 2, format!("{i:02x}").repeat(32))
}

/// Each fixture states the one error it must produce on its first lines:
/// `# expect: LINE: MESSAGE` (`{dir}` = the fixture folder) and, when the error is in another
/// file, `# expect-file: PATH`.
#[test]
fn every_error_fixture_gives_exactly_its_one_error() {
    let dir = fixtures().join("errors");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ini"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 25, "{fixtures:?}");
    for path in fixtures {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file = path.clone();
        let mut expected = None;
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            if let Some(relative) = line.strip_prefix("# expect-file: ") {
                file = dir.join(relative);
            }
            if let Some(message) = line.strip_prefix("# expect: ") {
                expected = Some(message.replace("{dir}", &dir.display().to_string()));
            }
        }
        let expected = format!("{}:{}", file.display(), expected.expect("an expect line"));
        let report = check(&path);
        assert_eq!(
            report.errors.len(),
            1,
            "{}: {:#?}",
            path.display(),
            report.errors
        );
        assert_eq!(report.errors[0].to_string(), expected);
        assert!(!report.is_ok());
        let loaded = Config::load(&path).unwrap_err();
        assert_eq!(loaded.0, report.errors, "{}", path.display());
    }
}

#[test]
fn check_lists_every_error_not_only_the_first() {
    let text = "[a]\nchan.min_ratio = x\nchan.max_capacity = y\nstrategy static\n[a]\n";
    let errors = Config::parse("t.ini", text).unwrap_err().0;
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(4), Some(5), Some(2), Some(3)], "{errors:#?}");
}

#[test]
fn a_missing_config_file_names_it() {
    let report = check("/nonexistent/charge.ini");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, None);
    assert!(
        report.errors[0]
            .to_string()
            .starts_with("/nonexistent/charge.ini: cannot read /nonexistent/charge.ini"),
        "{}",
        report.errors[0]
    );
}

#[test]
fn interpolation_feeds_conditions_and_parameters() {
    let config = parse(
        "[vars]\nLow = 0.2\nfloor = 25\n\
         [drained]\nchan.max_ratio = ${vars:low}\nstrategy = proportional\n\
         min_fee_ppm = ${vars:FLOOR}\nmax_fee_ppm = ${min_fee_ppm}0\nlabel = 5$$ per ${vars:floor}\n",
    );
    let drained = config.section("drained").unwrap();
    assert_eq!(
        drained.conditions[0].test,
        Test::AtMost {
            fact: lnpolicy_policy::config::Fact::Ratio,
            bound: 0.2
        }
    );
    let params = &drained.settings.params;
    assert_eq!(params["min_fee_ppm"], "25");
    assert_eq!(params["max_fee_ppm"], "250");
    assert_eq!(params["label"], "5$ per 25");
}

#[test]
fn keys_are_case_insensitive_and_section_names_are_not() {
    let config = parse(
        "[Friends]\nChan.Private = TRUE\nSTRATEGY = static\n[friends]\nstrategy = ignore\n\
         [ref]\nv = ${Friends:STRATEGY}\nstrategy = x\n",
    );
    assert_eq!(config.sections().len(), 3);
    assert_eq!(
        config
            .section("Friends")
            .unwrap()
            .settings
            .strategy
            .as_deref(),
        Some("static")
    );
    assert_eq!(
        config
            .section("friends")
            .unwrap()
            .settings
            .strategy
            .as_deref(),
        Some("ignore")
    );
    assert_eq!(
        config.section("Friends").unwrap().conditions[0].key,
        "chan.private"
    );
    assert_eq!(
        config.section("ref").unwrap().settings.params["v"],
        "static"
    );
    let error = Config::parse(
        "t.ini",
        "[Friends]\nstrategy = x\n[a]\nv = ${FRIENDS:strategy}\n",
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("section [FRIENDS], which does not exist"),
        "{error}"
    );
}

#[test]
fn default_upper_case_is_inherited_by_every_section_and_overridden_by_its_own_keys() {
    let config = parse(
        "[DEFAULT]\nbase_fee_msat = 0\nchan.min_capacity = 1_000_000\nfee_ppm = 9\n\
         [a]\nstrategy = static\n[b]\nbase_fee_msat = 1000\nstrategy = static\n\
         [default]\nstrategy = static\n",
    );
    let a = config.section("a").unwrap();
    let b = config.section("b").unwrap();
    assert_eq!(a.settings.properties.base_fee_msat, Some(0));
    assert_eq!(b.settings.properties.base_fee_msat, Some(1000));
    assert_eq!(a.settings.origins["base_fee_msat"].section, "DEFAULT");
    assert_eq!(a.settings.origins["base_fee_msat"].line, 2);
    assert_eq!(b.settings.origins["base_fee_msat"].section, "b");
    // Conditions in [DEFAULT] are conditions of every section.
    assert_eq!(a.conditions.len(), 1);
    assert_eq!(b.conditions[0].line, 3);
    // [default] (lower case) is the fallback, a section of its own that inherits too.
    let fallback = config.fallback().unwrap();
    assert_eq!(fallback.settings.params["fee_ppm"], "9");
    assert!(config.section("DEFAULT").is_none());
}

#[test]
fn multi_line_values_and_comments() {
    let (a, b) = (pubkey(1), pubkey(2));
    let config = parse(&format!(
        "; a comment\n[friends]\n# another\nnode.id = {a},\n    # not an entry\n\n    {b}\nstrategy = static\n"
    ));
    let Test::PeerIn(keys) = &config.sections()[0].conditions[0].test else {
        panic!("{:?}", config.sections()[0].conditions);
    };
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&a) && keys.contains(&b));
    assert!(config.notes().is_empty(), "{:?}", config.notes());
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let config = parse("\u{feff}[a]\nstrategy = static\n");
    assert_eq!(config.sections()[0].name, "a");
}

#[test]
fn file_lists_are_read_relative_to_the_config_file() {
    let dir = fixtures().join("realistic");
    let config = Config::load(dir.join("ruleset.ini")).unwrap();
    let sold = config.section("sold-liquidity").unwrap();
    let Test::ChannelIn(ids) = &sold.conditions[0].test else {
        panic!("{:?}", sold.conditions);
    };
    let scid = |b: u64, t: u64, o: u64| b << 40 | t << 16 | o;
    let expected = [
        scid(712_000, 1200, 0),
        scid(712_001, 14, 1),
        scid(712_002, 7, 0),
        scid(712_500, 99, 1),
    ];
    assert_eq!(ids.iter().copied().collect::<Vec<_>>(), expected);
    let note = config
        .notes()
        .iter()
        .find(|n| matches!(n.kind, NoteKind::RelativePath { .. }))
        .expect("a relative-path note");
    assert_eq!(note.line, Some(70));
    assert_eq!(note.key.as_deref(), Some("chan.id"));
    assert_eq!(
        note.kind,
        NoteKind::RelativePath {
            resolved: dir.join("lists/sold-channels.txt")
        }
    );
}

#[test]
fn absolute_file_lists_and_comma_separated_lines() {
    let list = fixtures().join("realistic/lists/friends.list");
    let config = parse(&format!(
        "[friends]\nnode.id = file://{}, {}\nstrategy = static\n",
        list.display(),
        pubkey(7)
    ));
    let Test::PeerIn(keys) = &config.sections()[0].conditions[0].test else {
        panic!();
    };
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(config.notes().is_empty(), "{:?}", config.notes());
}

/// charge-lnd splits a list at commas before it takes comments off, so `# retired, <id>`
/// still lists the id there. lnpolicy reads the rest of the line as the comment, and says
/// which list line charge-lnd read differently.
#[test]
fn ids_after_a_comma_in_a_list_comment_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("friends.txt");
    std::fs::write(
        &list,
        format!(
            "{}\n# retired, {}, not an id # {}\n# just a comment, nothing after\n",
            pubkey(1),
            pubkey(2),
            pubkey(3)
        ),
    )
    .unwrap();
    let config = Config::parse(
        dir.path().join("c.ini"),
        &format!(
            "[friends]\nnode.id = file://{}\nstrategy = static\n",
            list.display()
        ),
    )
    .unwrap();
    let Test::PeerIn(keys) = &config.sections()[0].conditions[0].test else {
        panic!();
    };
    assert_eq!(keys.len(), 1, "only the id before the comment: {keys:?}");
    let notes = config.notes();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].kind.is_charge_lnd_deviation());
    assert_eq!(
        (notes[0].line, notes[0].key.as_deref()),
        (Some(2), Some("node.id"))
    );
    assert_eq!(
        notes[0].kind,
        NoteKind::CommentHidesEntries {
            list: list.clone(),
            list_line: 2,
            entries: 1,
        }
    );
    assert!(
        notes[0].to_string().contains("friends.txt:2: 1 entry"),
        "{}",
        notes[0]
    );
}

#[test]
fn use_config_files_are_loaded_relative_to_the_including_file() {
    let dir = fixtures().join("realistic");
    let config = Config::load(dir.join("include-main.ini")).unwrap();
    let includes: Vec<_> = config.includes().collect();
    assert_eq!(includes.len(), 1);
    assert_eq!(includes[0].0, dir.join("shared/static-all.ini"));
    assert_eq!(includes[0].1.sections().len(), 2);
    assert_eq!(
        config.fallback().unwrap().settings.config_file.as_deref(),
        Some(dir.join("shared/static-all.ini").as_path())
    );
    assert!(
        config
            .notes()
            .iter()
            .any(|n| n.kind.is_charge_lnd_deviation() && n.key.as_deref() == Some("config_file"))
    );
    // config_file may carry charge-lnd's optional file:// prefix.
    let prefixed = Config::parse(
        dir.join("inline.ini"),
        "[default]\nstrategy = use_config\nconfig_file = file://shared/static-all.ini\n",
    )
    .unwrap();
    assert_eq!(prefixed.includes().count(), 1);
}

#[test]
fn realistic_configs_load_without_errors() {
    let dir = fixtures().join("realistic");
    for (file, sections, has_default) in [
        ("ruleset.ini", 12, true),
        ("flow.ini", 5, true),
        ("include-main.ini", 1, true),
        ("extended.ini", 5, true),
        ("shared/static-all.ini", 2, true),
    ] {
        let report = check(dir.join(file));
        assert!(report.is_ok(), "{file}: {:#?}", report.errors);
        let config = Config::load(dir.join(file)).unwrap();
        assert_eq!(config.sections().len(), sections, "{file}");
        assert_eq!(config.fallback().is_some(), has_default, "{file}");
    }
}

#[test]
fn check_notes_on_the_realistic_ruleset() {
    let report = check(fixtures().join("realistic/ruleset.ini"));
    let kinds: Vec<_> = report.notes.iter().map(|n| (&n.kind, n.line)).collect();
    assert!(
        kinds.contains(&(&NoteKind::LineBreakSeparator, Some(30))),
        "{kinds:#?}"
    );
    assert_eq!(report.notes.len(), 2, "{:#?}", report.notes);
}

#[test]
fn check_notes_on_the_extended_config() {
    let config = Config::load(fixtures().join("realistic/extended.ini")).unwrap();
    let notes = config.notes();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0].line, Some(28));
    assert_eq!(
        notes[0].to_string(),
        format!(
            "{}:28: key network.min_alternatives: unknown namespace `network.`: this section never matches any channel",
            fixtures().join("realistic/extended.ini").display()
        )
    );
    let busy = config.section("busy").unwrap();
    assert_eq!(busy.settings.guard.max_fee_step_ppm, Some(50));
    assert_eq!(
        busy.settings.guard.min_update_interval_secs,
        Some(12 * 3600)
    );
}

#[test]
fn charge_lnd_deviations_are_noted() {
    let config = parse(&format!(
        "[a]\nchan.disabled = true\nchan.activity_period = 1d\n\
         chan.activity_period_ignore_channel_age = true\nstrategy = proportional\n\
         min_fee_ppm = 1\nmax_fee_ppm = 2\nsum_peer_chans = false\n\
         [b]\nsum_peer_chans = true\nfee_ppm = false\nstrategy = x\n\
         [c]\nchan.id = 712000x1200x0,\nstrategy = static\n\
         [d]\nchan.id = 712000x1200x0, 712000x1200x1\nnode.id = {},\nstrategy = static\n",
        pubkey(1)
    ));
    let deviations: Vec<_> = config
        .notes()
        .iter()
        .filter(|n| n.kind.is_charge_lnd_deviation())
        .map(|n| (n.line.unwrap(), n.key.clone().unwrap()))
        .collect();
    assert_eq!(
        deviations,
        [
            (4, "chan.activity_period_ignore_channel_age".to_owned()),
            (2, "chan.disabled".to_owned()),
            (8, "sum_peer_chans".to_owned()),
            (14, "chan.id".to_owned()),
        ]
    );
    let empty = config.notes().iter().find(|n| n.line == Some(14)).unwrap();
    assert!(empty.to_string().contains("an empty entry"), "{empty}");
    let boolean = config.notes().iter().find(|n| n.line == Some(8)).unwrap();
    assert!(
        boolean.to_string().contains("reads it as false"),
        "{boolean}"
    );
}

#[test]
fn sections_that_cannot_match_are_noted() {
    let config = parse(
        "[impossible]\nchan.min_ratio = 0.8\nchan.max_ratio = 0.2\nstrategy = static\n\
         [catch-all]\nstrategy = static\n[after]\nchan.private = true\nstrategy = ignore\n\
         [default]\nchan.min_capacity = 5\nstrategy = static\n",
    );
    let notes: Vec<_> = config.notes().iter().map(|n| (n.line, &n.kind)).collect();
    assert!(notes.contains(&(
        Some(2),
        &NoteKind::EmptyRange {
            min_key: "chan.min_ratio".into(),
            max_key: "chan.max_ratio".into()
        }
    )));
    assert!(notes.contains(&(
        Some(7),
        &NoteKind::Unreachable {
            name: "after".into(),
            by: "catch-all".into(),
            by_line: 5
        }
    )));
    assert!(notes.contains(&(
        Some(10),
        &NoteKind::Unreachable {
            name: "default".into(),
            by: "catch-all".into(),
            by_line: 5
        }
    )));
    assert!(notes.contains(&(Some(11), &NoteKind::DefaultConditionIgnored)));
    assert_eq!(notes.len(), 4, "{notes:#?}");
}

#[test]
fn guard_keys_are_per_section_and_checked_against_the_daemon_limits() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    let config = parse(
        "[cheap]\nchan.private = true\nstrategy = static\nguard.max_fee_ppm = 300\n\
         [floor]\nstrategy = static\nguard.min_fee_ppm = 6000\n",
    );
    assert_eq!(
        config.section("cheap").unwrap().settings.guard.max_fee_ppm,
        Some(300)
    );
    let base = GuardConfig::new(NodeKind::Lnd);
    let (errors, notes) = config.validate_guard(&base);
    assert_eq!(notes, [], "no fee above a ceiling");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].line, Some(7));
    assert_eq!(errors[0].key.as_deref(), Some("guard.min_fee_ppm"));
    assert!(matches!(errors[0].kind, ErrorKind::Guard { .. }));
    assert!(
        errors[0]
            .to_string()
            .contains("min_fee_ppm (6000) is above max_fee_ppm (5000)"),
        "{}",
        errors[0]
    );
}

#[test]
fn fees_above_the_guard_ceiling_their_channels_get_are_noted() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    let base = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let noted = |text: &str| -> Vec<(Option<u32>, String)> {
        let (errors, notes) = parse(text).validate_guard(&base);
        assert_eq!(errors, []);
        notes
            .iter()
            .map(|n| {
                (
                    n.line,
                    format!("{}: {}", n.key.as_deref().unwrap_or(""), n.kind),
                )
            })
            .collect()
    };
    let above = |line, key: &str, value: u64, limit_key: &str, limit: u32| {
        (
            Some(line),
            format!(
                "{key}: {value} is above guard.{limit_key} ({limit}): the guard sends {limit} \
                 instead; set guard.{limit_key} in this section to allow it"
            ),
        )
    };
    assert_eq!(
        noted(
            "[high]\nchan.private = true\nstrategy = static\nfee_ppm = 60000\n\
             [arms]\nchan.min_capacity = 5000000\nstrategy = proportional\nmin_fee_ppm = 10\n\
             max_fee_ppm = 50000\nexperiment.a.max_fee_ppm = 70000\n\
             experiment.b.max_fee_ppm = 900\n\
             [stop]\nchan.min_capacity = 1000000\nstrategy = static\nfee_ppm = 1\n\
             base_fee_msat = 12000000\n\
             [default]\nstrategy = static\nfee_ppm = 80000\nguard.max_fee_ppm = 100000\n",
        ),
        [
            above(4, "fee_ppm", 60_000, "max_fee_ppm", 50_000),
            above(
                10,
                "experiment.a.max_fee_ppm",
                70_000,
                "max_fee_ppm",
                50_000
            ),
            above(
                16,
                "base_fee_msat",
                12_000_000,
                "max_base_fee_msat",
                10_000_000
            ),
        ],
        "[default]'s own ceiling covers its fee, and only its channels"
    );
    assert_eq!(
        noted(
            "[raise]\nchan.private = true\nguard.max_fee_ppm = 100000\n\
             [high]\nstrategy = static\nfee_ppm = 60000\n\
             [low]\nchan.min_capacity = 1000000\nstrategy = static\nfee_ppm = 3000\n\
             guard.max_fee_ppm = 2000\n",
        ),
        [above(10, "fee_ppm", 3_000, "max_fee_ppm", 2_000)],
        "a non-final section above may raise the ceiling for [high]'s channels; [low] lowers its own"
    );
    assert_eq!(
        noted(
            "[DEFAULT]\nfee_ppm = 70000\n[a]\nchan.private = true\nstrategy = static\n\
             [b]\nstrategy = static\n"
        ),
        [above(2, "fee_ppm", 70_000, "max_fee_ppm", 50_000)],
        "a fee every section inherits from [DEFAULT] is noted once, where it is written"
    );
}

#[test]
fn activity_periods_and_conf_targets_the_engine_must_supply() {
    let config = Config::load(fixtures().join("realistic/flow.ini")).unwrap();
    assert_eq!(config.activity_periods(), [3 * 86_400, 7 * 86_400].into());
    assert_eq!(config.conf_targets(), [3].into());
    let config = Config::load(fixtures().join("realistic/include-main.ini")).unwrap();
    assert!(config.activity_periods().is_empty());
}

#[test]
fn the_hourly_cap_is_read_from_default_and_every_section_inherits_it_without_error() {
    let config = parse(
        "[DEFAULT]\nbudget = 40\nguard.max_updates_per_hour = ${budget}\n\
         [a]\nchan.private = true\nstrategy = ignore\n[default]\nstrategy = static\nfee_ppm = 100\n",
    );
    assert_eq!(config.max_updates_per_hour().map(|n| n.get()), Some(40));
    for section in config.sections().iter().chain(config.fallback()) {
        assert!(
            !section
                .settings
                .params
                .contains_key("guard.max_updates_per_hour")
                && !section
                    .settings
                    .origins
                    .contains_key("guard.max_updates_per_hour"),
            "[{}] does not carry it",
            section.name
        );
    }
    assert_eq!(
        parse("[default]\nstrategy = ignore\n").max_updates_per_hour(),
        None,
        "no cap unless the operator sets one"
    );
}

#[test]
fn the_open_cost_estimate_is_node_wide_and_unset_unless_given() {
    let config = parse(
        "[DEFAULT]\nanalytics.estimated_open_cost_sat = 3500\n\
         [a]\nchan.private = true\nstrategy = ignore\n[default]\nstrategy = static\nfee_ppm = 100\n",
    );
    assert_eq!(config.estimated_open_cost_sat(), Some(3500));
    assert!(config.notes().is_empty(), "{:?}", config.notes());
    for section in config.sections().iter().chain(config.fallback()) {
        assert!(
            section.unknown_namespaces.is_empty(),
            "[{}] inherits it as an unknown namespace, which would keep it from matching",
            section.name
        );
    }
    assert_eq!(
        parse("[default]\nstrategy = ignore\n").estimated_open_cost_sat(),
        None
    );
}

/// `--check` names each property the guard will send otherwise, which charge-lnd would send as
/// written; numbers with underscores too.
#[test]
fn properties_the_guard_changes_are_noted() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    let base = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let noted = |text: &str| -> Vec<String> {
        let (errors, notes) = parse(text).validate_guard(&base);
        assert_eq!(errors, []);
        notes
            .iter()
            .map(|n| {
                format!(
                    "{}:{}: {}",
                    n.line.unwrap_or(0),
                    n.key.as_deref().unwrap_or(""),
                    n.kind
                )
            })
            .collect()
    };
    let notes = noted(
        "[a]\nchan.private = true\nstrategy = static\nfee_ppm = 60_000\ntime_lock_delta = 20\n\
         inbound_fee_ppm = 50\ninbound_base_fee_msat = -6000\n",
    );
    assert_eq!(notes.len(), 4, "{notes:#?}");
    assert!(
        notes[0].starts_with("4:fee_ppm: 60000 is above guard.max_fee_ppm"),
        "{notes:#?}"
    );
    assert_eq!(
        notes[1],
        "5:time_lock_delta: 20 is below guard.min_time_lock_delta (24): the guard sends 24 \
         instead; set guard.min_time_lock_delta in this section to allow it"
    );
    assert!(
        notes[2].starts_with("6:inbound_fee_ppm: 50 is a positive inbound fee: the guard sends 0"),
        "{notes:#?}"
    );
    assert!(
        notes[3].starts_with(
            "7:inbound_base_fee_msat: -6000 is below guard.min_inbound_base_fee_msat (-5000)"
        ),
        "{notes:#?}"
    );
    // Allowed node-wide, a positive fee within the outbound ceiling passes; above it, not.
    let allowed = noted(
        "[DEFAULT]\nguard.allow_positive_inbound = true\n\
         [a]\nchan.private = true\nstrategy = static\nfee_ppm = 100\ninbound_fee_ppm = 50\n\
         [b]\nstrategy = static\nfee_ppm = 100\ninbound_fee_ppm = 60000\n",
    );
    assert_eq!(allowed.len(), 1, "{allowed:#?}");
    assert!(
        allowed[0]
            .starts_with("11:inbound_fee_ppm: 60000 is above guard.max_inbound_fee_ppm (50000)"),
        "{allowed:#?}"
    );
}

/// Sections that send none of those values get no note about them, nor do inbound fees on
/// Core Lightning, which has none; a level written for match_peer, which ignores it, does.
#[test]
fn only_values_that_would_be_sent_are_noted() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    let notes = |text: &str, node| -> Vec<String> {
        let (errors, notes) = parse(text).validate_guard(&GuardConfig::charge_lnd_compatible(node));
        assert_eq!(errors, []);
        notes.iter().map(|n| n.kind.to_string()).collect()
    };
    let quiet = "[off]\nchan.private = true\nstrategy = ignore\ntime_lock_delta = 20\n\
                 inbound_fee_ppm = 50\n[keep]\nchan.min_capacity = 1\nstrategy = ignore_fees\n\
                 inbound_fee_ppm = 50\n";
    assert_eq!(notes(quiet, NodeKind::Lnd), Vec::<String>::new());
    let cln = "[a]\nstrategy = static\nfee_ppm = 1\ninbound_fee_ppm = 50\n";
    assert_eq!(notes(cln, NodeKind::Cln), Vec::<String>::new());
    assert_eq!(notes(cln, NodeKind::Lnd).len(), 1);
    let mirror = "[DEFAULT]\ninbound_level_ppm = 100\n[m]\nchan.private = true\nstrategy = match_peer\n\
                  [n]\nstrategy = match_peer\ninbound_level_ppm = 300\n";
    let noted = notes(mirror, NodeKind::Lnd);
    assert_eq!(
        noted.len(),
        1,
        "only where it is written in a match_peer section: {noted:?}"
    );
    assert!(
        noted[0].starts_with("match_peer copies the peer's inbound fees"),
        "{noted:?}"
    );
}

#[test]
fn positive_inbound_fees_are_allowed_node_wide_only() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    let base = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let config = parse(
        "[DEFAULT]\nguard.allow_positive_inbound = yes\n[a]\nchan.private = true\nstrategy = ignore\n",
    );
    let guard = config.node_guard(&base);
    assert!(guard.allow_positive_inbound);
    assert_eq!(guard.max_inbound_fee_ppm, 50_000);
    assert_eq!(guard.max_inbound_base_fee_msat, 10_000_000);
    assert!(config.notes().is_empty(), "{:?}", config.notes());
    let unset = parse("[default]\nstrategy = ignore\n").node_guard(&base);
    assert!(!unset.allow_positive_inbound);
    assert_eq!(unset.max_inbound_fee_ppm, 0);
    let errors = Config::parse(
        "/etc/charge.config",
        "[a]\nstrategy = static\nfee_ppm = 1\nguard.allow_positive_inbound = true\n",
    )
    .unwrap_err()
    .0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, Some(4));
    assert!(
        errors[0]
            .to_string()
            .contains("guard.allow_positive_inbound"),
        "{}",
        errors[0]
    );
}

#[test]
fn the_decision_detail_period_is_node_wide_and_unset_unless_given() {
    let config = parse(
        "[DEFAULT]\nstore.keep_decisions_days = 30\n[a]\nchan.private = true\nstrategy = ignore\n",
    );
    assert_eq!(config.keep_decisions_days(), Some(30));
    assert!(config.notes().is_empty(), "{:?}", config.notes());
    assert!(config.sections()[0].unknown_namespaces.is_empty());
    assert_eq!(
        parse("[default]\nstrategy = ignore\n").keep_decisions_days(),
        None
    );
}

#[test]
fn lnflow_rule_keys_are_explained_where_they_are_written() {
    let config = parse(
        "[cheap]\npriority = 10\nfinal = false\nstrategy = static\nfee_ppm = 10\n\
         [default]\nenabled = true\nstrategy = ignore\n",
    );
    let notes: Vec<(Option<u32>, String)> = config
        .notes()
        .iter()
        .filter(|n| matches!(n.kind, NoteKind::LnflowKey { .. }))
        .map(|n| (n.line, n.to_string()))
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert_eq!(notes[0].0, Some(2));
    assert!(notes[0].1.contains("file order"), "{}", notes[0].1);
    assert_eq!(notes[1].0, Some(3));
    assert_eq!(notes[2].0, Some(7));
}
