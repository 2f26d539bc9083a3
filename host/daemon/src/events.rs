//! Strategy events go to the store's audit trail, as in every other mode, and are counted
//! for the metrics on the way: the registry reports guest failures, quarantines and reloads
//! only as events, from the reload thread as well as from cycles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};
use lnpolicy_store::Store;

use crate::metrics::Metrics;

pub(crate) struct DaemonEvents {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Set once the start-up loading is done: loading the built-ins and the folder at start
    /// is not a reload.
    running: AtomicBool,
}

impl DaemonEvents {
    pub(crate) fn new(store: Arc<Store>, metrics: Arc<Metrics>) -> DaemonEvents {
        DaemonEvents {
            store,
            metrics,
            running: AtomicBool::new(false),
        }
    }

    pub(crate) fn started(&self) {
        self.running.store(true, Ordering::Release);
    }
}

impl EventSink for DaemonEvents {
    fn record(&self, event: &StrategyEvent) {
        match event.kind {
            StrategyEventKind::CallFailed => self.metrics.record_guest_failure(),
            StrategyEventKind::Quarantined => self.metrics.record_quarantine(),
            StrategyEventKind::Loaded
            | StrategyEventKind::Reloaded
            | StrategyEventKind::Unloaded
                if self.running.load(Ordering::Acquire) =>
            {
                self.metrics.record_strategy_reload();
            }
            _ => {}
        }
        self.store.record(event);
    }
}
