//! Sustained CTI ingest from several clients at once, remembering every event the server
//! acknowledged, and the check that those events are in a database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ctihub_domain::phone::PhoneNormalizer;
use ctihub_store::{ConnectOptions, DatabaseLocation, Store};

use crate::helpers::try_post_form;

/// An event the server answered 200 to: it promised it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub call_id: String,
    pub kind: &'static str,
}

/// Clients pushing newCall/answer/hangup lifecycles until stopped, the server dies, or a time
/// limit passes.
pub struct Ingest {
    acked: Arc<Mutex<Vec<Acked>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<thread::JoinHandle<Vec<String>>>,
}

const LIMIT: Duration = Duration::from_secs(30);

impl Ingest {
    pub fn start(url: &str, push_path: &str, clients: usize, tag: &str) -> Ingest {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..clients)
            .map(|client| {
                let (url, path, tag) = (url.to_owned(), push_path.to_owned(), tag.to_owned());
                let (acked, stop) = (acked.clone(), stop.clone());
                thread::spawn(move || {
                    let deadline = Instant::now() + LIMIT;
                    let mut refused = Vec::new();
                    'calls: for n in 0.. {
                        let call_id = format!("{tag}-{client}-{n}");
                        for kind in ["newCall", "answer", "hangup"] {
                            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                                break 'calls;
                            }
                            let form = format!(
                                "event={kind}&direction=in&from=4917150{client:02}{n:04}&to=4930600000&callId={call_id}\
                                 &user=Agent&cause=normalClearing"
                            );
                            match try_post_form(&url, &path, &form) {
                                Ok((200, _)) => acked.lock().unwrap().push(Acked { call_id: call_id.clone(), kind }),
                                Ok((status, body)) => refused.push(format!("{call_id} {kind}: {status} {body}")),
                                // The server went away: this client is done.
                                Err(_) => break 'calls,
                            }
                        }
                    }
                    refused
                })
            })
            .collect();
        Ingest { acked, stop, workers }
    }

    /// The events acknowledged so far.
    pub fn acked(&self) -> Vec<Acked> {
        self.acked.lock().unwrap().clone()
    }

    /// Wait until at least `n` events were acknowledged (bounded).
    pub fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + LIMIT;
        while self.acked.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "fewer than {n} events acknowledged in {LIMIT:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the clients; every acknowledged event, and any non-200 answer (there must be none).
    pub fn finish(self) -> (Vec<Acked>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let refused = self.workers.into_iter().flat_map(|w| w.join().expect("an ingest client")).collect();
        (self.acked.lock().unwrap().clone(), refused)
    }
}

/// Every acknowledged event is stored with its call, and the call is as far along as its
/// acknowledged events say.
pub fn assert_all_stored(location: &DatabaseLocation, options: &ConnectOptions, acked: &[Acked]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Store::connect(location, options, PhoneNormalizer::default()).await.expect("open the database");
        let mut calls: Vec<&str> = acked.iter().map(|a| a.call_id.as_str()).collect();
        calls.sort_unstable();
        calls.dedup();
        for call_id in calls {
            let call = store
                .find_call_by_ref("zammad", call_id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("call {call_id} was acknowledged but is not stored"));
            let stored: Vec<String> =
                store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
            for a in acked.iter().filter(|a| a.call_id == call_id) {
                assert!(
                    stored.iter().any(|k| k == a.kind),
                    "{call_id}: acknowledged {} missing from {stored:?}",
                    a.kind
                );
            }
            if acked.iter().any(|a| a.call_id == call_id && a.kind == "hangup") {
                assert_eq!(call.data.state.as_str(), "ended", "{call_id}");
            }
        }
        store.close().await;
    });
}

/// The warnings the store gives about the database's durability settings.
pub fn durability_warnings(location: &DatabaseLocation, options: &ConnectOptions) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Store::connect(location, options, PhoneNormalizer::default()).await.expect("open the database");
        let report = store.durability().await.expect("read the durability settings");
        store.close().await;
        report.warnings
    })
}
