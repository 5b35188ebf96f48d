//! An agent's calls from one source that are not tied to a ticket yet: the Freshdesk CTI
//! dialect tickets them when the agent takes the next call ("API invoked before call dispose").

use ctihub_domain::Id;
use ctihub_domain::call::Call;

use crate::{Store, StoreResult, on_pool};

impl Store {
    /// Calls known by a `source` reference, answered by `agent_id`, with no ticket; oldest first.
    pub async fn untied_calls_of_agent(&self, source: &str, agent_id: Id, limit: i64) -> StoreResult<Vec<Call>> {
        let ids: Vec<Id> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(
                "SELECT DISTINCT c.id FROM calls c JOIN call_refs r ON r.call_id = c.id \
                 WHERE r.source = $1 AND c.agent_id = $2 AND c.ticket_id IS NULL ORDER BY c.id LIMIT $3",
            )
            .bind(source)
            .bind(agent_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        self.get_calls(&ids).await
    }
}
