//! The durability settings are in effect on the connections the store hands out.

use ctihub_store::BackendKind;

use crate::helpers::on_each_backend;

#[tokio::test]
async fn commits_are_flushed_before_they_are_acknowledged() {
    on_each_backend("US", async |store| {
        let report = store.durability().await.unwrap();
        let setting = |name: &str| report.settings.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        match store.kind() {
            BackendKind::Sqlite => {
                assert_eq!(setting("journal_mode"), Some("wal"));
                assert_eq!(setting("synchronous"), Some("full"));
                assert!(report.warnings.is_empty(), "{report:?}");
            }
            BackendKind::Postgres => {
                // The throwaway test cluster runs with synchronous_commit = off; the store's
                // sessions turn it on, and the cluster's fsync = off is reported.
                assert_eq!(setting("synchronous_commit"), Some("on"), "{report:?}");
                let fsync_off = setting("fsync") == Some("off");
                assert_eq!(report.warnings.iter().any(|w| w.contains("fsync = off")), fsync_off, "{report:?}");
            }
        }
    })
    .await;
}
