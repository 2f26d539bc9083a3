//! Rebalances among LND's payments: a payment whose route ends at our own node left by one
//! of our channels and came back by another.

use lnpolicy_core::{NodeError, PaymentPart, PaymentPartPage, UnresolvedPayment};

use super::permissions::LIST_PAYMENTS;
use super::{protocol, unsigned};
use crate::lnrpc::{self, htlc_attempt::HtlcStatus, payment::PaymentStatus};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The parts of the rebalances in one `ListPayments` answer (payments after `from_index`, in
/// index order). LND numbers a payment when it starts, so the page's end moves past a payment
/// still in flight (or only initiated) only with it listed as unresolved, to be read again
/// once it has resolved; a payment held for days (or one LND never resolves) holds nothing
/// else back. Each successful attempt that came back to `me` gives two parts: `2k`, sent by
/// the first hop's channel with the route's amount and fee, and `2k + 1`, received by the
/// last hop's.
pub fn rebalance_parts(
    payments: &[lnrpc::Payment],
    me: &str,
    from_index: u64,
) -> Result<PaymentPartPage, NodeError> {
    let mut parts = Vec::new();
    let mut unresolved = Vec::new();
    let mut next_index = from_index;
    let mut events = 0;
    for payment in payments {
        if payment.payment_index <= next_index {
            return Err(protocol(
                LIST_PAYMENTS,
                format!(
                    "payment_index {} after {next_index}: not in ascending order",
                    payment.payment_index
                ),
            ));
        }
        match payment.status() {
            PaymentStatus::InFlight | PaymentStatus::Initiated => {
                unresolved.push(UnresolvedPayment {
                    index: payment.payment_index,
                    started_secs: unsigned(
                        LIST_PAYMENTS,
                        "creation_time_ns",
                        payment.creation_time_ns / NANOS_PER_SEC,
                    )?,
                });
            }
            PaymentStatus::Succeeded => parts.extend(circular_parts(payment, me)?),
            PaymentStatus::Failed | PaymentStatus::Unknown => {}
        }
        next_index = payment.payment_index;
        events += 1;
    }
    Ok(PaymentPartPage {
        parts,
        unresolved,
        events,
        next_index,
    })
}

fn circular_parts(payment: &lnrpc::Payment, me: &str) -> Result<Vec<PaymentPart>, NodeError> {
    let mut parts = Vec::new();
    for attempt in &payment.htlcs {
        if attempt.status() != HtlcStatus::Succeeded {
            continue;
        }
        let Some(route) = &attempt.route else {
            continue;
        };
        let (Some(first), Some(last)) = (route.hops.first(), route.hops.last()) else {
            continue;
        };
        if !last.pub_key.eq_ignore_ascii_case(me) {
            continue;
        }
        let settled_ns = match attempt.resolve_time_ns {
            0 => payment.creation_time_ns,
            ns => ns,
        };
        let part = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        let sent = PaymentPart {
            index: payment.payment_index,
            part,
            at_secs: unsigned(LIST_PAYMENTS, "resolve_time_ns", settled_ns / NANOS_PER_SEC)?,
            channel: Some(first.chan_id),
            payment_hash: payment.payment_hash.to_ascii_lowercase(),
            sent: true,
            amount_msat: unsigned(LIST_PAYMENTS, "route.total_amt_msat", route.total_amt_msat)?,
            fee_msat: unsigned(
                LIST_PAYMENTS,
                "route.total_fees_msat",
                route.total_fees_msat,
            )?,
        };
        let received = PaymentPart {
            part: part.saturating_add(1),
            channel: Some(last.chan_id),
            sent: false,
            amount_msat: unsigned(
                LIST_PAYMENTS,
                "hops.amt_to_forward_msat",
                last.amt_to_forward_msat,
            )?,
            fee_msat: 0,
            ..sent.clone()
        };
        parts.extend([sent, received]);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lnrpc::{Hop, HtlcAttempt, Payment, Route};

    const ME: &str = "02aa";

    fn hop(chan_id: u64, pub_key: &str, amount: i64) -> Hop {
        Hop {
            chan_id,
            amt_to_forward_msat: amount,
            fee_msat: 0,
            pub_key: pub_key.into(),
        }
    }

    fn attempt(status: HtlcStatus, hops: Vec<Hop>, fee: i64) -> HtlcAttempt {
        HtlcAttempt {
            attempt_id: 1,
            status: status.into(),
            route: Some(Route {
                total_amt_msat: hops.first().map_or(0, |h| h.amt_to_forward_msat) + fee,
                total_fees_msat: fee,
                hops,
            }),
            attempt_time_ns: 0,
            resolve_time_ns: 1_700_000_000 * NANOS_PER_SEC,
        }
    }

    fn payment(index: u64, status: PaymentStatus, htlcs: Vec<HtlcAttempt>) -> Payment {
        Payment {
            payment_hash: format!("AB{index:02}"),
            value_msat: 0,
            status: status.into(),
            fee_msat: 0,
            creation_time_ns: 0,
            htlcs,
            payment_index: index,
        }
    }

    #[test]
    fn a_payment_back_to_us_is_a_rebalance_and_one_elsewhere_is_not() {
        let circular = vec![
            hop(1, "03b", 500_000),
            hop(9, "03c", 500_000),
            hop(2, ME, 500_000),
        ];
        let page = rebalance_parts(
            &[
                payment(
                    4,
                    PaymentStatus::Succeeded,
                    vec![
                        attempt(HtlcStatus::Failed, circular.clone(), 900),
                        attempt(HtlcStatus::Succeeded, circular, 700),
                    ],
                ),
                payment(
                    5,
                    PaymentStatus::Succeeded,
                    vec![attempt(
                        HtlcStatus::Succeeded,
                        vec![hop(1, "03b", 100), hop(9, "03d", 100)],
                        50,
                    )],
                ),
                payment(6, PaymentStatus::Failed, Vec::new()),
            ],
            ME,
            3,
        )
        .unwrap();
        assert_eq!((page.events, page.next_index), (3, 6));
        let summary: Vec<_> = page
            .parts
            .iter()
            .map(|p| {
                (
                    p.index,
                    p.part,
                    p.channel,
                    p.sent,
                    p.amount_msat,
                    p.fee_msat,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (4, 0, Some(1), true, 500_700, 700),
                (4, 1, Some(2), false, 500_000, 0)
            ]
        );
        assert_eq!(page.parts[0].payment_hash, "ab04");
        assert_eq!(page.parts[0].at_secs, 1_700_000_000);
    }

    #[test]
    fn a_payment_in_flight_is_passed_over_as_unresolved_and_the_page_goes_on() {
        let circular = vec![hop(1, "03b", 1000), hop(2, ME, 1000)];
        let page = rebalance_parts(
            &[
                payment(7, PaymentStatus::Failed, Vec::new()),
                Payment {
                    creation_time_ns: 1_600_000_000 * NANOS_PER_SEC,
                    ..payment(
                        8,
                        PaymentStatus::InFlight,
                        vec![attempt(HtlcStatus::InFlight, circular.clone(), 10)],
                    )
                },
                payment(
                    9,
                    PaymentStatus::Succeeded,
                    vec![attempt(HtlcStatus::Succeeded, circular, 10)],
                ),
            ],
            ME,
            6,
        )
        .unwrap();
        assert_eq!((page.events, page.next_index), (3, 9));
        assert_eq!(
            page.unresolved,
            [UnresolvedPayment {
                index: 8,
                started_secs: 1_600_000_000,
            }]
        );
        assert_eq!(
            page.parts
                .iter()
                .map(|p| (p.index, p.sent))
                .collect::<Vec<_>>(),
            [(9, true), (9, false)],
            "the rebalance after it is not held back"
        );
    }

    #[test]
    fn payments_out_of_order_are_a_protocol_error() {
        let error = rebalance_parts(
            &[
                payment(5, PaymentStatus::Failed, Vec::new()),
                payment(5, PaymentStatus::Failed, Vec::new()),
            ],
            ME,
            0,
        )
        .unwrap_err();
        assert!(error.to_string().contains("ListPayments"), "{error}");
    }
}
