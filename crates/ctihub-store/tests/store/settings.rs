//! Shared settings: a hot path gets the same parse until the stored document changes, and a
//! change made through another connection (the CLI, another node) holds at the very next read.

use std::collections::BTreeMap;
use std::sync::Arc;

use ctihub_store::Store;

use crate::helpers::on_each_database;

type Doc = BTreeMap<String, i64>;

fn doc(value: i64) -> Doc {
    BTreeMap::from([("value".to_owned(), value)])
}

async fn shared(store: &Store) -> Option<Arc<Doc>> {
    store.get_setting_shared::<Doc>("shared_doc").await.expect("read the setting")
}

#[tokio::test]
async fn a_shared_setting_is_parsed_once_until_it_changes_anywhere() {
    on_each_database("DE", async |t| {
        let store = &t.store;
        assert_eq!(shared(store).await, None, "no document yet");

        store.put_setting("shared_doc", &doc(1)).await.unwrap();
        let first = shared(store).await.expect("stored");
        assert_eq!(*first, doc(1));
        let again = shared(store).await.expect("stored");
        assert!(Arc::ptr_eq(&first, &again), "an unchanged document is not parsed again");

        // Other writes leave the document alone: still the same parse.
        store.put_setting("other_doc", &doc(7)).await.unwrap();
        assert!(Arc::ptr_eq(&first, &shared(store).await.unwrap()));

        // Another connection pool (another node, or the CLI in its own process) changes it.
        let other = t.another_node().await;
        other.put_setting("shared_doc", &doc(2)).await.unwrap();
        let second = shared(store).await.unwrap();
        assert_eq!(*second, doc(2), "the change holds at once");

        // Saved again unchanged: the text is the same, so is the parse.
        other.put_setting("shared_doc", &doc(2)).await.unwrap();
        assert!(Arc::ptr_eq(&second, &shared(store).await.unwrap()));
        other.close().await;
    })
    .await;
}
