//! Cluster mode end to end: three `ctihub serve` processes on loopback ports over one PostgreSQL
//! database, driven as a load balancer in front of them would (any request to any node).
//! Needs `CTIHUB_TEST_DATABASE_URL`: run through `scripts/with-postgres` (CI always does).

mod console;
mod node;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use console::{Console, sign_in};
use node::{Database, Node};
use tokio::sync::Mutex;

const PASSWORD: &str = "agent password";

/// A database with an admin, agents and a customer, and `nodes` nodes serving it.
struct Cluster {
    nodes: Vec<Node>,
    push_path: String,
    admin_token: String,
    /// Agent name → user id.
    agents: BTreeMap<String, i64>,
    customer: i64,
    // Dropped last: the nodes must be gone before their database.
    db: Database,
}

impl Cluster {
    fn start(purpose: &str, nodes: usize, agents: &[&str]) -> Cluster {
        Cluster::start_with(purpose, nodes, agents, &[])
    }

    fn start_with(purpose: &str, nodes: usize, agents: &[&str], settings: &[(&str, &str)]) -> Cluster {
        let db = Database::create(purpose);
        db.ctihub(&["migrate"]);
        db.ctihub(&["user", "create", "--role", "admin", "--name", "Ada Admin", "--email", "ada@example.com"]);
        let admin_token = db.ctihub(&["token", "create", "--email", "ada@example.com"]).trim().to_owned();
        let agents = agents
            .iter()
            .map(|name| {
                let email = format!("{}@example.com", name.to_lowercase());
                let id = db.ctihub(&[
                    "user",
                    "create",
                    "--role",
                    "agent",
                    "--name",
                    name,
                    "--email",
                    &email,
                    "--password",
                    PASSWORD,
                ]);
                ((*name).to_owned(), id.trim().parse().expect("user create prints the id"))
            })
            .collect();
        let customer = db
            .ctihub(&[
                "user",
                "create",
                "--role",
                "end-user",
                "--name",
                "Carla Customer",
                "--phone",
                "+49 30 5557 1600",
            ])
            .trim()
            .parse()
            .expect("an id");
        let enabled = db.ctihub(&["cti", "enable"]);
        let push_path = enabled
            .split_whitespace()
            .find(|word| word.starts_with("/api/v1/cti/"))
            .unwrap_or_else(|| panic!("cti enable names the push path: {enabled}"))
            .to_owned();
        let nodes = (1..=nodes).map(|n| Node::start_with(&db, &format!("node{n}"), settings)).collect();
        Cluster { nodes, push_path, admin_token, agents, customer, db }
    }

    fn agent(&self, name: &str) -> i64 {
        self.agents[name]
    }

    async fn console(&self, name: &str, node: usize) -> Console {
        let cookie = sign_in(&self.nodes[node].base, &format!("{}@example.com", name.to_lowercase()), PASSWORD).await;
        Console::open(&self.nodes[node].base, &cookie).await
    }

    /// The addresses of the live nodes, as node `node` lists them to an admin.
    async fn live_nodes(&self, client: &reqwest::Client, node: usize) -> BTreeSet<String> {
        let answer = client.get(self.nodes[node].url("/api/hub/cluster")).bearer_auth(&self.admin_token).send().await;
        let body: serde_json::Value = answer.unwrap().json().await.unwrap();
        let nodes = body["nodes"].as_array().unwrap_or_else(|| panic!("a node list: {body}"));
        nodes.iter().map(|n| format!("http://{}", n["address"].as_str().unwrap())).collect()
    }

    /// Zendesk's "show this user to this agent", posted to `node`: its status.
    async fn display_user(&self, client: &reqwest::Client, node: usize, agent: i64) -> u16 {
        let path = format!("/api/v2/channels/voice/agents/{agent}/users/{}/display.json", self.customer);
        let answer = client.post(self.nodes[node].url(&path)).bearer_auth(&self.admin_token).send().await.unwrap();
        answer.status().as_u16()
    }
}

/// One Zammad generic-CTI event, as a PBX posts it: `Ok(())` when the node acknowledged it.
async fn push(client: &reqwest::Client, base: &str, path: &str, form: &str) -> Result<(), String> {
    let answer = client
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match answer.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("{status}: {}", answer.text().await.unwrap_or_default())),
    }
}

fn lifecycle(call: &str, agent: &str) -> [(&'static str, String); 3] {
    // From the customer's number, so each call is identified as hers.
    let common = format!("from=%2B493055571600&to=%2B4930123456&direction=in&callId={call}");
    [
        ("newCall", format!("event=newCall&{common}&user%5B%5D={agent}")),
        ("answer", format!("event=answer&{common}&user={agent}")),
        ("hangup", format!("event=hangup&{common}&cause=normalClearing")),
    ]
}

#[tokio::test]
async fn a_console_on_one_node_gets_pops_from_the_others_and_every_node_answers_display_alike() {
    let cluster = Cluster::start("pops", 3, &["Anna", "Ben"]);
    let client = reqwest::Client::new();
    let mut anna = cluster.console("Anna", 0).await;

    // Each node lists all three.
    let all: BTreeSet<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    for node in 0..3 {
        assert_eq!(cluster.live_nodes(&client, node).await, all, "as node{} sees it", node + 1);
    }

    // An answered call posted to node 3 pops on Anna's console on node 1.
    for (_, form) in lifecycle("across-nodes", "Anna").iter().take(2) {
        push(&client, &cluster.nodes[2].base, &cluster.push_path, form).await.unwrap();
    }
    let pop = wait_for_kind(&mut anna, "screen_pop").await;
    let call = cluster.db.store().await.find_call_by_ref("zammad", "across-nodes").await.unwrap().expect("stored");
    assert_eq!(pop.data["call_id"], call.id, "{pop:?}");

    // Every node knows Anna's console is open (on node 1) and Ben has none; each display
    // request pops on node 1, whichever node it was posted to.
    let (anna_id, ben_id) = (cluster.agent("Anna"), cluster.agent("Ben"));
    for node in 0..3 {
        assert_eq!(cluster.display_user(&client, node, anna_id).await, 200, "display via node{}", node + 1);
        let pop = wait_for_kind(&mut anna, "screen_pop").await;
        assert_eq!(pop.data["user_id"], cluster.customer, "{pop:?}");
        assert_eq!(cluster.display_user(&client, node, ben_id).await, 409, "Ben has no console open");
        assert_eq!(cluster.display_user(&client, node, 999_999).await, 404, "no such agent");
    }

    // Anna closes her page: no node counts her console any more.
    drop(anna);
    for node in 0..3 {
        wait_until(Duration::from_secs(5), || async { cluster.display_user(&client, node, anna_id).await == 409 })
            .await
            .unwrap_or_else(|_| panic!("node{} still counts Anna's closed console", node + 1));
    }
}

#[tokio::test]
async fn a_credentials_rate_limit_is_one_budget_across_nodes() {
    let cluster = Cluster::start_with("limits", 2, &[], &[("CTIHUB_API_RATE_LIMIT", "10")]);
    let client = reqwest::Client::new();
    // Windows are whole clock minutes on every node: stay clear of a boundary.
    let into_minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if into_minute > 45 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
    let me =
        |node: usize| client.get(cluster.nodes[node].url("/api/v2/users/me.json")).bearer_auth(&cluster.admin_token);
    for _ in 0..6 {
        assert_eq!(me(0).send().await.unwrap().status(), 200);
    }
    // Nodes share their counts every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let answer = me(1).send().await.unwrap();
    assert_eq!(answer.headers()["x-rate-limit-remaining"], "3", "node2 counts node1's six");
    for _ in 0..3 {
        assert_eq!(me(1).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Ten in all: node1 refuses the eleventh, although it answered only six itself.
    let limited = me(0).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().expect("whole seconds");
    assert!((1..=60).contains(&retry), "{retry}");
}

/// Calls acknowledged per call id: which of its events got a 200.
type Acknowledged = Arc<Mutex<HashMap<String, BTreeSet<&'static str>>>>;

#[tokio::test]
async fn a_node_killed_mid_traffic_loses_no_acknowledged_event_and_its_consoles_catch_up_elsewhere() {
    const VICTIM: usize = 1;
    let mut cluster = Cluster::start("kill", 3, &["Anna", "Ben", "Carl", "Dora"]);
    let client = reqwest::Client::new();

    // Anna and Ben work on the node that will die, Carl on node 1. Dora's page is on the victim
    // too but never reconnects: her presence shows how soon the others notice the death.
    let consoles = [("Anna", VICTIM), ("Ben", VICTIM), ("Carl", 0)];
    let mut pop_tasks = Vec::new();
    let stop_watching = Arc::new(tokio::sync::Notify::new());
    let others: Vec<String> = [0, 2].iter().map(|&n| cluster.nodes[n].base.clone()).collect();
    for (name, node) in consoles {
        let mut console = cluster.console(name, node).await;
        let (others, stop) = (others.clone(), stop_watching.clone());
        pop_tasks.push(tokio::spawn(async move { watch_pops(&mut console, &others, &stop).await }));
    }
    let _dora = cluster.console("Dora", VICTIM).await;
    let dora = cluster.agent("Dora");
    assert_eq!(cluster.display_user(&client, 0, dora).await, 200, "Dora's console is open before the kill");

    // Sustained traffic from four PBX lines, spread over all three nodes; an event whose node
    // fails is retried on the next one, as a PBX behind a load balancer would.
    let acknowledged: Acknowledged = Default::default();
    // Events acknowledged before and after the kill: the traffic must span it.
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acks_around_kill = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let names = ["Anna", "Ben", "Carl"];
    let traffic_ends = Instant::now() + Duration::from_secs(6);
    let mut lines = Vec::new();
    for line in 0..4_usize {
        let (client, bases, path, acknowledged) =
            (client.clone(), bases.clone(), cluster.push_path.clone(), acknowledged.clone());
        let (killed, acks_around_kill) = (killed.clone(), acks_around_kill.clone());
        lines.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for n in 0..150_usize {
                if Instant::now() > traffic_ends {
                    break;
                }
                let call = format!("line{line}-call{n}");
                for (step, (event, form)) in lifecycle(&call, names[(line + n) % 3]).iter().enumerate() {
                    for attempt in 0..3 {
                        let base = &bases[(line + n + step + attempt) % bases.len()];
                        match push(&client, base, &path, form).await {
                            Ok(()) => {
                                acknowledged.lock().await.entry(call.clone()).or_default().insert(*event);
                                acks_around_kill[usize::from(killed.load(Ordering::SeqCst))]
                                    .fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                }
            }
            errors
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.nodes[VICTIM].kill();
    killed.store(true, Ordering::SeqCst);
    let killed_at = Instant::now();

    // Dora's only console was on the dead node: within seconds no node counts it.
    wait_until(Duration::from_secs(15), || async { cluster.display_user(&client, 0, dora).await == 409 })
        .await
        .expect("node1 stops counting the dead node's console");
    let noticed_after = killed_at.elapsed();
    eprintln!("cluster: the dead node's console stopped counting after {noticed_after:?}");
    let survivors: BTreeSet<String> = [0, 2].iter().map(|&n| cluster.nodes[n].base.clone()).collect();
    assert_eq!(cluster.live_nodes(&client, 2).await, survivors, "the dead node is no longer listed");

    let mut transport_errors = 0;
    for line in lines {
        transport_errors += line.await.unwrap().len();
    }
    eprintln!("cluster: {transport_errors} events failed on the dying node and were retried");

    // Every acknowledged event is stored, on the nodes that live on.
    let store = cluster.db.store().await;
    let acknowledged = acknowledged.lock().await.clone();
    let [before, after] = [0, 1].map(|i| acks_around_kill[i].load(Ordering::SeqCst));
    eprintln!("cluster: {} calls; events acknowledged {before} before the kill, {after} after", acknowledged.len());
    assert!(before > 0 && after > 0, "the traffic must span the kill: {before} events before, {after} after");
    let mut answered_by: HashMap<i64, String> = HashMap::new();
    for (call_ref, events) in &acknowledged {
        let call = store.find_call_by_ref("zammad", call_ref).await.unwrap();
        let call = call.unwrap_or_else(|| panic!("acknowledged call {call_ref} is not stored"));
        let stored: BTreeSet<String> =
            store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
        for event in events {
            assert!(stored.contains(*event), "{call_ref}: acknowledged {event} missing; stored {stored:?}");
        }
        if events.contains("answer") {
            let agent = call.data.agent_id.expect("an answered call has its agent");
            let name = cluster.agents.iter().find(|(_, id)| **id == agent).map(|(n, _)| n.clone()).unwrap();
            answered_by.insert(call.id, name);
        }
    }

    // Every console got the pop of every call it answered: those on the dead node through the
    // node they reconnected to, with what they missed replayed.
    let settle = Instant::now() + Duration::from_secs(10);
    tokio::time::sleep_until(settle.into()).await;
    stop_watching.notify_waiters();
    let mut popped: HashMap<String, (BTreeSet<i64>, Vec<String>)> = HashMap::new();
    for (task, (name, _)) in pop_tasks.into_iter().zip(consoles) {
        popped.insert(name.to_owned(), task.await.unwrap());
    }
    for (name, (calls, nodes)) in &popped {
        let expected: BTreeSet<i64> =
            answered_by.iter().filter(|(_, agent)| *agent == name).map(|(call, _)| *call).collect();
        let missing: Vec<_> = expected.difference(calls).collect();
        assert!(missing.is_empty(), "{name} (nodes {nodes:?}) missed the pops of calls {missing:?}");
        assert!(!expected.is_empty(), "{name} answered no call");
        if name != "Carl" {
            assert!(nodes.len() > 1 && nodes[0] == bases[VICTIM], "{name} moved off the dead node: {nodes:?}");
        }
    }
    for node in [&cluster.nodes[0], &cluster.nodes[2]] {
        assert!(!node.log().contains("panicked"), "{} panicked:\n{}", node.name, node.log());
    }
}

/// Collect the call ids of the screen pops a console receives until `stop`, reconnecting to one
/// of `others` (with `Last-Event-ID`) when its node goes away. Also the nodes it was served by.
async fn watch_pops(
    console: &mut Console,
    others: &[String],
    stop: &tokio::sync::Notify,
) -> (BTreeSet<i64>, Vec<String>) {
    let mut calls = BTreeSet::new();
    let mut nodes = vec![console.node.clone()];
    let stopped = stop.notified();
    tokio::pin!(stopped);
    let mut attempt = 0;
    loop {
        tokio::select! {
            () = &mut stopped => return (calls, nodes),
            next = console.next(Duration::from_secs(1)) => match next {
                Ok(Some(event)) if event.kind == "screen_pop" => {
                    calls.insert(event.data["call_id"].as_i64().expect("a pop names its call"));
                }
                Ok(_) => {}
                Err(_) => {
                    // EventSource retries after a moment; the load balancer sends it elsewhere.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    attempt += 1;
                    let base = &others[attempt % others.len()];
                    if console.connect(base).await.is_ok() {
                        nodes.push(base.clone());
                    }
                }
            }
        }
    }
}

async fn wait_for_kind(console: &mut Console, kind: &str) -> console::Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(event)) = console.next(Duration::from_secs(1)).await
            && event.kind == kind
        {
            return event;
        }
    }
    panic!("no {kind} within 10 s on {}", console.node);
}

/// Poll `check` every 100 ms until it holds; `Err` after `limit`.
async fn wait_until<F, Fut>(limit: Duration, check: F) -> Result<(), ()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(())
}
