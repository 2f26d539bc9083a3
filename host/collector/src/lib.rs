//! The collector: brings the store's copy of the node up to date. Channels
//! are snapshotted; forwards and failed forwards are paged from where the
//! last run stopped, and so are the forwards a node listed in flight and that
//! resolved since (CLN), and the parts of our own payments that tell what rebalancing cost.
//! Each page and its cursor are committed together, so a
//! crash or a node error mid-way loses nothing and duplicates nothing: the
//! next run resumes at the last committed page. LND's log is keyed by its wall
//! clock, so the last two hours before its cursor are read again each run: a
//! forward LND stamped there after its clock stepped back is stored then.

use std::sync::atomic::{AtomicBool, Ordering};

use lnpolicy_core::{NodeChannel, NodeClient, NodeError, NodeInfo, NodeKind, UnresolvedPayment};
use lnpolicy_store::{Store, StoreError, Stream};

/// How far before its cursor LND's forwarding log is read again. LND stamps a forward with
/// its wall clock and keeps its log in time order, so after the clock steps back (NTP after a
/// boot from a saved clock, a clock that ran fast) new forwards sort before ones already read.
/// Two hours cover a clock restored from an hourly save; a larger step loses the forwards
/// stamped before the window.
pub const LND_REREAD_WINDOW_NS: u64 = 2 * 3600 * 1_000_000_000;

/// LND payments per page, whatever the other streams' page: LND lists each payment with every
/// attempt it made, so a page of a rebalancing node's payments is far larger than one of
/// forwards. Also how many payments passed over in flight are read again per run.
const LND_PAYMENT_PAGE: u32 = 100;

/// How long after it started a payment passed over in flight is read again. No HTLC is held
/// longer than two weeks (2016 blocks); one listed in flight for a month is a record its node
/// never resolved.
const UNRESOLVED_GIVE_UP_SECS: u64 = 30 * 86_400;

/// How much to fetch per call and per run.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// Events per page (LND allows up to 50,000; smaller pages keep each
    /// transaction and each answer small).
    pub page_size: u32,
    /// Pages per stream per run, so a collection between cycles on a node with years of
    /// history cannot hold the daemon up; the next run continues.
    pub max_pages: u32,
}

impl CollectConfig {
    /// Every page there is: what a cycle that decides needs, since windows missing their
    /// recent forwards read as idle channels and collapsed revenue. It still commits page by
    /// page, so an interrupted catch-up resumes where it stopped.
    pub fn to_the_end() -> Self {
        CollectConfig {
            max_pages: u32::MAX,
            ..CollectConfig::default()
        }
    }
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            page_size: 1000,
            max_pages: 100,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    /// The channels as the node reported them in this run (also snapshotted
    /// in the store), so the caller need not read them back.
    pub node_channels: Vec<NodeChannel>,
    /// The node's identity and sync state as this run read them (`None` only in a report
    /// not made by [`collect`]), so the cycle that follows need not ask again.
    pub node_info: Option<NodeInfo>,
    pub channels: usize,
    pub forwards_added: usize,
    /// Of `forwards_added`, those LND stamped before forwards already stored (its clock
    /// stepped back).
    pub late_forwards_added: usize,
    pub failures_added: usize,
    /// Rows of forwards settled or failed after the node listed them in flight (CLN).
    pub resolved_added: usize,
    /// Parts of our own payments (rebalances among them).
    pub payment_parts_added: usize,
    pub node_calls: u32,
    /// Every stream reached the end of the node's history.
    pub caught_up: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the node's {stream} index went backwards ({from} → {next}); refusing to rewind")]
    Rewind {
        stream: &'static str,
        from: u64,
        next: u64,
    },
}

/// One collection run at unix time `at`. On error, everything committed
/// before it stays; calling again resumes.
pub async fn collect(
    node: &dyn NodeClient,
    store: &Store,
    at: u64,
    config: &CollectConfig,
) -> Result<CollectReport, CollectError> {
    let mut report = CollectReport::default();
    let info = node.get_info().await?;
    store.bind_node(&info.pubkey, info.kind, at)?;
    report.node_info = Some(info);
    let channels = node.list_channels().await?;
    report.node_calls += 2;
    let previous = store.last_collection_at()?;
    store.add_channel_snapshot(at, &channels)?;
    report.channels = channels.len();
    report.node_channels = channels;

    if node.kind() == NodeKind::Lnd
        && let Some(cursor) = store.lnd_forwards_cursor_to_time()?
    {
        tracing::info!(
            cursor,
            "LND forwards cursor moved from a log offset to the last stored forward's time"
        );
    }
    if node.kind() == NodeKind::Lnd {
        reread_lnd_window(node, store, at, previous, config, &mut report).await?;
    }
    let forwards_done = page_through(store, config, &mut report, Stream::Forwards, async |from| {
        let page = node.forwards(from, config.page_size).await?;
        let count = page.forwards.len();
        let added = store.add_forwards(&page.forwards, page.next_index)?;
        Ok(Some(Paged {
            count,
            added,
            next: page.next_index,
        }))
    })
    .await?;
    let failures_done = page_through(
        store,
        config,
        &mut report,
        Stream::FailedForwards,
        async |from| {
            let page = match node.failed_forwards(from, config.page_size).await {
                Ok(page) => page,
                // Failure counts only inform strategies: a macaroon without the right to
                // them must not stop the collection, and with it every fee update.
                Err(error @ NodeError::PermissionDenied { .. }) => {
                    tracing::warn!(%error, "failed forwards are not collected: the node refuses them");
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            };
            let count = page.failures.len();
            let added = store.add_failed_forwards(&page.failures, page.next_index)?;
            Ok(Some(Paged {
                count,
                added,
                next: page.next_index,
            }))
        },
    )
    .await?;
    let resolved_done = page_through(
        store,
        config,
        &mut report,
        Stream::ResolvedForwards,
        async |from| {
            let Some(page) = node.resolved_forwards(from, config.page_size).await? else {
                return Ok(None);
            };
            let count = page.forwards.len() + page.failures.len();
            let added =
                store.add_resolved_forwards(&page.forwards, &page.failures, page.next_index)?;
            Ok(Some(Paged {
                count,
                added,
                next: page.next_index,
            }))
        },
    )
    .await?;
    let payments_done = collect_payment_parts(node, store, at, config, &mut report).await?;
    report.caught_up = forwards_done && failures_done && resolved_done && payments_done;
    tracing::debug!(
        channels = report.channels,
        forwards = report.forwards_added,
        failures = report.failures_added,
        resolved = report.resolved_added,
        payment_parts = report.payment_parts_added,
        calls = report.node_calls,
        caught_up = report.caught_up,
        "collected"
    );
    Ok(report)
}

/// Reads LND's log again from [`LND_REREAD_WINDOW_NS`] before the cursor up to it, storing
/// what is missing; the cursor stays where it is, so the normal pass then reads on from it.
/// A cursor ahead of `at` (unix seconds, lnpolicy's clock) means LND's clock ran ahead and
/// was set right since: its new forwards are stamped from about the collection before this
/// one (`previous`) on, so the window then starts before that instead, however long ago.
async fn reread_lnd_window(
    node: &dyn NodeClient,
    store: &Store,
    at: u64,
    previous: Option<u64>,
    config: &CollectConfig,
    report: &mut CollectReport,
) -> Result<(), CollectError> {
    let cursor = store.cursor(Stream::Forwards)?;
    if cursor == 0 {
        return Ok(());
    }
    let now_ns = at.saturating_mul(1_000_000_000);
    if cursor > now_ns.saturating_add(LND_REREAD_WINDOW_NS) {
        tracing::warn!(
            cursor,
            now_ns,
            "LND stamped forwards later than this machine's clock: reading its log again from before now"
        );
    }
    let previous_ns = previous.map_or(now_ns, |at| at.saturating_mul(1_000_000_000));
    let mut from = cursor
        .min(now_ns)
        .min(previous_ns)
        .saturating_sub(LND_REREAD_WINDOW_NS);
    let mut late = 0;
    loop {
        let page = node.forwards(from, config.page_size).await?;
        report.node_calls += 1;
        let count = page.forwards.len();
        if count > 0 && page.next_index <= from {
            return Err(CollectError::Rewind {
                stream: "forwards",
                from,
                next: page.next_index,
            });
        }
        let before: Vec<_> = page
            .forwards
            .into_iter()
            .take_while(|f| f.index <= cursor)
            .collect();
        let reached_cursor = before.len() < count || count < config.page_size as usize;
        late += store.add_lnd_forwards_read_again(&before)?;
        if reached_cursor {
            break;
        }
        from = page.next_index;
    }
    if late > 0 {
        tracing::warn!(
            late,
            cursor,
            "LND stamped forwards earlier than forwards already read (its clock stepped back); stored them now"
        );
    }
    report.forwards_added += late;
    report.late_forwards_added += late;
    Ok(())
}

/// One page as stored: events in it, rows new to the store, where the stream goes on.
struct Paged {
    count: usize,
    added: usize,
    next: u64,
}

/// Fetches pages of one stream until it is exhausted or `max_pages` is
/// reached; `fetch(from)` stores a page, or answers `None` when the node has
/// no such stream (nothing to do, no call made).
async fn page_through(
    store: &Store,
    config: &CollectConfig,
    report: &mut CollectReport,
    stream: Stream,
    fetch: impl AsyncFn(u64) -> Result<Option<Paged>, CollectError>,
) -> Result<bool, CollectError> {
    let mut from = store.cursor(stream)?;
    for _ in 0..config.max_pages {
        let Some(Paged { count, added, next }) = fetch(from).await? else {
            return Ok(true);
        };
        report.node_calls += 1;
        match stream {
            Stream::Forwards => report.forwards_added += added,
            Stream::FailedForwards => report.failures_added += added,
            Stream::ResolvedForwards => report.resolved_added += added,
            Stream::PaymentParts => report.payment_parts_added += added,
        }
        if count > 0 && next <= from {
            return Err(CollectError::Rewind {
                stream: match stream {
                    Stream::Forwards => "forwards",
                    Stream::FailedForwards => "failed forwards",
                    Stream::ResolvedForwards => "resolved forwards",
                    Stream::PaymentParts => "payment parts",
                },
                from,
                next,
            });
        }
        if count < config.page_size as usize {
            return Ok(true);
        }
        from = next;
    }
    Ok(false)
}

/// The payments stream, then the payments it passed over in flight; whether both were read to
/// the end. Rebalancing costs only inform the profitability classes: a node that cannot list
/// payments (a macaroon without the right) or fails to this time must not stop the collection,
/// and every fee update with it.
async fn collect_payment_parts(
    node: &dyn NodeClient,
    store: &Store,
    at: u64,
    config: &CollectConfig,
    report: &mut CollectReport,
) -> Result<bool, CollectError> {
    let config = CollectConfig {
        page_size: match node.kind() {
            NodeKind::Lnd => config.page_size.min(LND_PAYMENT_PAGE),
            NodeKind::Cln => config.page_size,
        },
        ..config.clone()
    };
    let failed = AtomicBool::new(false);
    let paged = page_through(
        store,
        &config,
        report,
        Stream::PaymentParts,
        async |from| {
            let page = match node.payment_parts(from, config.page_size).await {
                Ok(Some(page)) => page,
                Ok(None) => return Ok(None),
                Err(error @ NodeError::PermissionDenied { .. }) => {
                    tracing::warn!(%error, "rebalancing costs are not collected: the node refuses to list payments");
                    return Ok(None);
                }
                Err(error) => {
                    tracing::warn!(%error, "rebalancing costs not collected this time");
                    failed.store(true, Ordering::Relaxed);
                    return Ok(None);
                }
            };
            let (unresolved, stale): (Vec<_>, Vec<_>) = page
                .unresolved
                .iter()
                .partition(|p| at.saturating_sub(p.started_secs) <= UNRESOLVED_GIVE_UP_SECS);
            if !stale.is_empty() {
                tracing::warn!(
                    count = stale.len(),
                    "payments listed in flight for over 30 days are not read again: the node never resolved them"
                );
            }
            let added = store.add_payment_parts(&page.parts, &unresolved, page.next_index)?;
            Ok(Some(Paged {
                count: page.events,
                added,
                next: page.next_index,
            }))
        },
    )
    .await;
    let paged = match paged {
        Ok(done) => done && !failed.load(Ordering::Relaxed),
        Err(error @ CollectError::Rewind { .. }) => {
            tracing::warn!(%error, "rebalancing costs not collected this time");
            false
        }
        Err(other) => return Err(other),
    };
    Ok(read_unresolved_payments(node, store, at, report).await? && paged)
}

/// Reads again the payments the stream passed over in flight, at most [`LND_PAYMENT_PAGE`] of
/// them per run (the oldest half, nearest their give-up, and the newest half, likeliest to have
/// just resolved, so that payments stuck for good do not hold newer ones back), storing what
/// those that resolved came to; one still
/// in flight, or still failing to be read, [`UNRESOLVED_GIVE_UP_SECS`] after it started is
/// given up with a warning. Whether every one was read. A node that cannot be reached stops
/// the reading, with a warning, as on the stream; an answer about one payment that cannot be
/// read passes over that one.
async fn read_unresolved_payments(
    node: &dyn NodeClient,
    store: &Store,
    at: u64,
    report: &mut CollectReport,
) -> Result<bool, CollectError> {
    let unresolved = store.unresolved_payments()?;
    let limit = LND_PAYMENT_PAGE as usize;
    let mut all_read = unresolved.len() <= limit;
    let chosen: Vec<UnresolvedPayment> = if all_read {
        unresolved
    } else {
        let oldest = limit / 2;
        let newest = unresolved.len() - (limit - oldest);
        unresolved[..oldest]
            .iter()
            .chain(&unresolved[newest..])
            .copied()
            .collect()
    };
    for payment in chosen {
        let index = payment.index;
        let too_old = at.saturating_sub(payment.started_secs) > UNRESOLVED_GIVE_UP_SECS;
        let give_up = |why: &str| {
            tracing::warn!(
                index,
                started = payment.started_secs,
                why,
                "a payment unresolved 30 days after it started is no longer read; its cost, if it was a rebalance that settles, is not counted"
            );
            store.resolve_payment(index, &[])
        };
        let page = match node.payment_parts(index.saturating_sub(1), 1).await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(true),
            // A refusal is for good, as on the stream.
            Err(NodeError::PermissionDenied { .. }) => return Ok(true),
            Err(error) if too_old => {
                give_up(&error.to_string())?;
                continue;
            }
            // An answer that cannot be read is this payment's: the others are still read.
            Err(error @ NodeError::Protocol { .. }) => {
                tracing::warn!(%error, index, "a payment in flight was not read again this time");
                all_read = false;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, index, "payments in flight were not read again this time");
                return Ok(false);
            }
        };
        report.node_calls += 1;
        if page.unresolved.iter().any(|p| p.index == index) {
            if too_old {
                give_up("still in flight")?;
            }
            continue;
        }
        // A payment deleted from the node's records is gone: the page then starts at a later one.
        let parts: Vec<_> = page
            .parts
            .into_iter()
            .filter(|p| p.index == index)
            .collect();
        report.payment_parts_added += store.resolve_payment(index, &parts)?;
    }
    Ok(all_read)
}
