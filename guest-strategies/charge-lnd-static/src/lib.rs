//! `static`: charge-lnd's strategy that sets a fixed outbound fee rate.
//!
//! `fee_ppm` is optional because in charge-lnd a key left out keeps the channel's current
//! value: a `static` section may set only `base_fee_msat` or HTLC limits, which the host
//! applies as properties.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, ParamSpec, Params, Reason, Strategy, StrategyInfo, ppm,
};

/// The strategy; see the crate documentation.
pub struct Static;

impl Strategy for Static {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "static".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `static`: sets the outbound fee rate to fee_ppm, or keeps \
                          it when fee_ppm is left out."
                .into(),
            params: vec![
                ParamSpec::integer("fee_ppm", "Outbound fee rate, ppm; left out keeps it.", 0)
                    .range(0.0, f64::from(ppm::MILLION))
                    .optional(),
            ],
        }
    }

    fn decide(
        _host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let fee = params.opt_u32("fee_ppm")?;
        Ok(channels
            .iter()
            .map(|c| match fee {
                Some(fee) => Decision::set(c.channel_id)
                    .fee_ppm(fee)
                    .reason(Reason::new("static: ").int(fee).text(" ppm").finish()),
                None => Decision::unchanged(c.channel_id, "static: no fee_ppm, fee kept"),
            })
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(Static);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{TestHost, fixtures, run};
    use lnpolicy_sdk::{Decision, Param};

    use super::Static;

    fn decide(params: &[Param]) -> Result<Vec<Decision>, String> {
        run::<Static>(&mut TestHost::new(), params, &fixtures())
    }

    #[test]
    fn fee_ppm_is_set_on_every_channel() {
        for decision in decide(&[Param::new("fee_ppm", 250)]).unwrap() {
            let expected = Decision::set(decision.channel_id)
                .fee_ppm(250)
                .reason("static: 250 ppm");
            assert_eq!(decision, expected);
        }
    }

    #[test]
    fn without_fee_ppm_the_fee_is_kept() {
        let decisions = decide(&[]).unwrap();
        assert_eq!(decisions.len(), fixtures().len());
        for decision in decisions {
            assert!(decision.is_unchanged());
            assert_eq!(decision.reason, "static: no fee_ppm, fee kept");
        }
    }

    #[test]
    fn zero_is_a_valid_fee() {
        assert_eq!(
            decide(&[Param::new("fee_ppm", 0)]).unwrap()[0].fee_ppm,
            Some(0)
        );
    }

    #[test]
    fn bad_fee_ppm_is_an_error_naming_it() {
        assert_eq!(
            decide(&[Param::new("fee_ppm", -1)]).unwrap_err(),
            "parameter `fee_ppm`: -1 is below the minimum 0"
        );
        assert!(
            decide(&[Param::new("fee_ppm", 1.5)])
                .unwrap_err()
                .contains("`fee_ppm`: expected an integer")
        );
    }
}
