//! The audit log page for admins: what `GET /api/hub/audit` returns, as a table.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::session::{Admin, Refusal};
use super::{Layout, iso};
use crate::AppState;

const PAGE_SIZE: i64 = 50;

pub(crate) struct AuditLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub address: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_audit.html")]
pub(crate) struct AuditPage {
    layout: Layout,
    entries: Vec<AuditLine>,
    page: i64,
    pages: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageParam {
    page: Option<i64>,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<PageParam>,
) -> Result<AuditPage, Refusal> {
    let page = q.page.unwrap_or(1).max(1);
    let (entries, total) = state.store.list_audit((page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let layout = Layout::new(&state, &admin, "Audit log", "audit").await?;
    let entries = entries
        .into_iter()
        .map(|e| AuditLine {
            id: e.id,
            at: iso(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target.unwrap_or_default(),
            address: e.address.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    Ok(AuditPage { layout, entries, page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1) })
}
