//! `walletrpc.WalletKit/EstimateFee` over the scenario's fee estimates.

use std::sync::Arc;

use lnpolicy_node::lnd::permissions::ESTIMATE_FEE;
use lnpolicy_node::walletrpc::wallet_kit_server::WalletKit;
use lnpolicy_node::walletrpc::{EstimateFeeRequest, EstimateFeeResponse};
use tonic::{Request, Response, Status};

use super::Shared;
use crate::state::NodeState;

/// LND's floor, `chainfee.FeePerKwFloor`: 253 sat/kw (1.012 sat/vB), what
/// its estimator answers at the least.
pub(super) const FEE_PER_KW_FLOOR: i64 = 253;

pub(super) struct WalletKitService {
    pub(super) shared: Arc<Shared>,
}

/// LND refuses targets below 2, as bitcoind has no estimate for the next
/// block. A node without estimates answers 0 (a real LND falls back to its
/// configured fee instead; 0 lets tests see the client's "no estimate").
pub(super) fn estimate_fee(
    state: &NodeState,
    req: &EstimateFeeRequest,
) -> Result<EstimateFeeResponse, Status> {
    if req.conf_target < 2 {
        return Err(Status::unknown(
            "confirmation target must be greater than 1",
        ));
    }
    let target = u32::try_from(req.conf_target).unwrap_or(u32::MAX);
    let sat_per_kw = state.fee_rate(target).map_or(0, |sat_per_vb| {
        // A virtual byte is four weight units: sat/kw = sat/vB × 1000 / 4.
        (libm::round(sat_per_vb * 250.0) as i64).max(FEE_PER_KW_FLOOR)
    });
    Ok(EstimateFeeResponse { sat_per_kw })
}

#[tonic::async_trait]
impl WalletKit for WalletKitService {
    async fn estimate_fee(
        &self,
        request: Request<EstimateFeeRequest>,
    ) -> Result<Response<EstimateFeeResponse>, Status> {
        self.shared.admit(ESTIMATE_FEE, &request).await?;
        estimate_fee(&self.shared.state(), request.get_ref()).map(Response::new)
    }
}
