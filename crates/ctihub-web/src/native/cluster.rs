//! The nodes serving this database, for an operator checking a deployment ("are all three up?").

use axum::Json;
use axum::extract::State;
use ctihub_domain::time::now_millis;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AdminUser;
use crate::cluster::Node;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClusterDto {
    /// The id of the node that answered.
    this_node: String,
    /// Every node alive now (seen within the last few seconds), oldest first.
    nodes: Vec<NodeDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodeDto {
    /// Random per process start.
    id: String,
    /// Where the node listens, as it bound it.
    address: String,
    version: String,
    /// Milliseconds since the Unix epoch.
    started_at: i64,
    /// The node's last heartbeat, milliseconds since the Unix epoch.
    seen_at: i64,
}

/// The live nodes of the cluster (one on SQLite).
#[utoipa::path(get, path = "/api/hub/cluster", tag = "cluster",
    responses((status = 200, body = ClusterDto), (status = 403, body = ErrorBody)))]
pub(crate) async fn nodes(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<ClusterDto>, ApiError> {
    state.node.registered(&state.store).await?;
    let live = state.store.live_nodes(Node::alive_since(now_millis())).await?;
    Ok(Json(ClusterDto {
        this_node: state.node.id().to_owned(),
        nodes: live
            .into_iter()
            .map(|n| NodeDto {
                id: n.id,
                address: n.address,
                version: n.version,
                started_at: n.started_at,
                seen_at: n.seen_at,
            })
            .collect(),
    }))
}
