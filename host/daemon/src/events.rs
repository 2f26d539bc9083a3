//! Strategy events go to the store's audit trail, as in every other mode, and are counted
//! for the metrics on the way: the registry reports guest failures, quarantines and reloads
//! only as events, from the reload thread as well as from cycles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};
use lnpolicy_store::Store;
use tokio::sync::mpsc::UnboundedSender;

use crate::control::{Control, ReloadCause};
use crate::metrics::Metrics;

pub(crate) struct DaemonEvents {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Told of strategies loaded while running, for a config rejected for lacking one.
    control: UnboundedSender<Control>,
    /// Set once the start-up loading is done: loading the built-ins and the folder at start
    /// is not a reload.
    running: AtomicBool,
}

impl DaemonEvents {
    pub(crate) fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        control: UnboundedSender<Control>,
    ) -> DaemonEvents {
        DaemonEvents {
            store,
            metrics,
            control,
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
                // The receiver is gone only once the daemon stops, when nothing needs telling.
                let _ = self
                    .control
                    .send(Control::Reload(ReloadCause::StrategyChanged));
            }
            _ => {}
        }
        self.store.record(event);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};
    use lnpolicy_store::Store;

    use super::DaemonEvents;
    use crate::metrics::Metrics;

    #[test]
    fn a_call_the_host_could_not_run_is_not_a_guest_failure() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let metrics = Arc::new(Metrics::default());
        let (control, _) = tokio::sync::mpsc::unbounded_channel();
        let events = DaemonEvents::new(Arc::clone(&store), Arc::clone(&metrics), control);
        for kind in [StrategyEventKind::HostFailed, StrategyEventKind::CallFailed] {
            events.record(&StrategyEvent {
                at: 1,
                strategy: "s".into(),
                sha256: "ab".into(),
                kind,
                detail: String::new(),
            });
        }
        let text = metrics.render();
        assert!(
            text.lines()
                .any(|line| line == "lnpolicy_guest_failures_total 1"),
            "{text}"
        );
    }
}
