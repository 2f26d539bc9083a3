//! The daemon's building blocks that need no node: the database lock (a real file, a real
//! `flock`), the interval syntax, and the metrics exposition before anything happened.

use lnpolicy_daemon::{DaemonError, DbLock, Metrics, parse_interval};

#[test]
fn a_second_lock_on_the_same_database_is_refused_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    let held = DbLock::acquire(&db).unwrap();
    assert_eq!(held.path(), dir.path().join("lnpolicy.db.lock"));
    let pid = std::process::id();
    assert_eq!(
        std::fs::read_to_string(held.path()).unwrap().trim(),
        pid.to_string()
    );

    let refused = DbLock::acquire(&db).unwrap_err();
    match &refused {
        DaemonError::AlreadyRunning { path, pid: holder } => {
            assert_eq!(path, held.path());
            assert_eq!(*holder, Some(pid));
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    let message = refused.to_string();
    assert!(message.contains(&format!("(pid {pid})")), "{message}");
    assert!(
        message.contains("one process at a time per database"),
        "{message}"
    );

    // Released with its holder; the file stays, and the next holder writes its own pid.
    drop(held);
    let again = DbLock::acquire(&db).unwrap();
    assert_eq!(
        std::fs::read_to_string(again.path()).unwrap().trim(),
        pid.to_string()
    );
}

#[test]
fn a_lock_file_deleted_by_hand_is_locked_again_before_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    let mut held = DbLock::acquire(&db).unwrap();
    assert!(
        !held.reassert().unwrap(),
        "an untouched lock needs no retaking"
    );
    std::fs::remove_file(held.path()).unwrap();
    assert!(held.reassert().unwrap());
    // The file the path names now is locked: a second process is refused again.
    assert!(matches!(
        DbLock::acquire(&db),
        Err(DaemonError::AlreadyRunning { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(held.path()).unwrap().trim(),
        std::process::id().to_string()
    );
}

#[test]
fn a_holder_whose_lock_file_another_process_took_must_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    let mut first = DbLock::acquire(&db).unwrap();
    std::fs::remove_file(first.path()).unwrap();
    // With the file gone, a second process locks a new one at the same path.
    let _second = DbLock::acquire(&db).unwrap();
    match first.reassert() {
        Err(DaemonError::AlreadyRunning { path, pid }) => {
            assert_eq!(path, first.path());
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
}

#[test]
fn a_lock_in_a_missing_folder_creates_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new").join("lnpolicy.db");
    let lock = DbLock::acquire(&db).unwrap();
    assert!(lock.path().is_file());
}

#[test]
fn intervals_use_charge_lnd_periods() {
    let secs = |text: &str| parse_interval(text).unwrap().as_secs();
    assert_eq!(secs("45s"), 45);
    assert_eq!(secs("10m"), 600);
    assert_eq!(secs("1h"), 3600);
    assert_eq!(secs("7d"), 604_800);
    assert_eq!(secs("3600"), 3600);
    for bad in ["0", "0s", "1w", "ten", "", "-5m"] {
        let error = parse_interval(bad).unwrap_err();
        assert!(error.contains("not a period"), "{bad:?}: {error}");
    }
}

#[test]
fn every_metric_is_exposed_from_the_start() {
    let text = Metrics::default().render();
    for (name, kind) in [
        ("lnpolicy_cycles_total", "counter"),
        ("lnpolicy_collections_total", "counter"),
        ("lnpolicy_decisions_total", "counter"),
        ("lnpolicy_clamps_total", "counter"),
        ("lnpolicy_guest_failures_total", "counter"),
        ("lnpolicy_quarantines_total", "counter"),
        ("lnpolicy_updates_total", "counter"),
        ("lnpolicy_rollbacks_total", "counter"),
        ("lnpolicy_reconciled_total", "counter"),
        ("lnpolicy_config_reloads_total", "counter"),
        ("lnpolicy_strategy_reloads_total", "counter"),
        ("lnpolicy_revenue_msat", "gauge"),
        ("lnpolicy_channels", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }
    for series in [
        "lnpolicy_cycles_total{status=\"ok\"} 0",
        "lnpolicy_cycles_total{status=\"failed\"} 0",
        "lnpolicy_cycles_total{status=\"abandoned\"} 0",
        "lnpolicy_updates_total{result=\"applied\"} 0",
        "lnpolicy_updates_total{result=\"failed\"} 0",
        "lnpolicy_updates_total{result=\"unanswered\"} 0",
        "lnpolicy_updates_total{result=\"below_delta\"} 0",
        "lnpolicy_updates_total{result=\"unchanged\"} 0",
        "lnpolicy_updates_total{result=\"held\"} 0",
        "lnpolicy_config_reloads_total{result=\"ok\"} 0",
        "lnpolicy_config_reloads_total{result=\"rejected\"} 0",
        "lnpolicy_revenue_msat{window=\"1d\"} 0",
        "lnpolicy_revenue_msat{window=\"7d\"} 0",
        "lnpolicy_rollbacks_total 0",
        "lnpolicy_channels 0",
    ] {
        assert!(text.lines().any(|line| line == series), "{series}\n{text}");
    }
}

/// A database reached through a symlink is the same database: one lock.
#[test]
fn a_symlink_to_a_locked_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    std::fs::write(&db, b"").unwrap();
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let _held = DbLock::acquire(&db).unwrap();
    assert!(matches!(
        DbLock::acquire(&link).unwrap_err(),
        DaemonError::AlreadyRunning { .. }
    ));
}

/// Before the database exists, a symlink to where it will be locks the same file as the path
/// it points to, so the process that creates it through the link and one that opens it
/// directly cannot both run.
#[test]
fn a_dangling_symlink_locks_the_file_it_will_create() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = data.join("lnpolicy.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let held = DbLock::acquire(&link).unwrap();
    assert_eq!(
        held.path(),
        std::fs::canonicalize(&data)
            .unwrap()
            .join("lnpolicy.db.lock")
    );
    std::fs::write(&db, b"").unwrap();
    assert!(matches!(
        DbLock::acquire(&db).unwrap_err(),
        DaemonError::AlreadyRunning { .. }
    ));
}
