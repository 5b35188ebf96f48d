//! Search: the users, tickets and organizations that meet every one of a list of conditions.
//! Conditions on phones, tags and custom values probe the index tables beside the rows
//! (`id IN (SELECT … FROM caller_index …)`), so a caller lookup stays an index probe however
//! many users there are; name and text conditions compare case-insensitively with `LIKE`.

use ctihub_domain::Id;
use ctihub_domain::organization::Organization;
use ctihub_domain::phone::{CallerNumber, PHONE_TAIL_DIGITS, phone_tail};
use ctihub_domain::search::Pattern;
use ctihub_domain::ticket::{Priority, Ticket, TicketStatus, TicketType};
use ctihub_domain::user::{Role, User};

use crate::organizations::{ORG_COLUMNS, OrgRow};
use crate::sql::{Param, bind_params};
use crate::tickets::{TICKET_COLUMNS, TicketRow};
use crate::users::{USER_COLUMNS, UserRow};
use crate::{Store, StoreResult, on_pool};

/// A test and whether it must fail instead (`-tags:spam`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition<T> {
    pub negated: bool,
    pub test: T,
}

impl<T> Condition<T> {
    pub fn is(test: T) -> Self {
        Condition { negated: false, test }
    }
}

/// A phone number to look for: its digits as typed, and whether they may be the end of a
/// longer number (Zendesk's leading `*`).
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneQuery {
    pub digits: String,
    pub suffix: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserTest {
    Id(Id),
    Role(Role),
    /// A phone field of the user (the caller index's `known` numbers).
    Phone(PhoneQuery),
    Email(Pattern),
    Name(Pattern),
    ExternalId(Pattern),
    Tag(String),
    /// An organization by id or name.
    Organization(Pattern),
    /// A custom user field's stored text.
    Field {
        field_id: Id,
        value: Pattern,
    },
    /// The call-center agent id set on an agent.
    AgentId(String),
    /// A free word: in the name, the e-mail address, or (seven digits or more) a phone number.
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TicketTest {
    Id(Id),
    Status(TicketStatus),
    Priority(Priority),
    TicketType(TicketType),
    /// A user by id, e-mail address or name.
    Requester(Pattern),
    Assignee(Pattern),
    /// A group by id or name.
    Group(Pattern),
    Organization(Pattern),
    Tag(String),
    Field {
        field_id: Id,
        value: Pattern,
    },
    Subject(Pattern),
    Description(Pattern),
    ExternalId(Pattern),
    /// A channel by its Zendesk `via_id` name (`voicemail`, `phone_call_inbound`, …).
    Via(String),
    /// A free word: in the subject or description, or the ticket's id.
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrganizationTest {
    Id(Id),
    Name(Pattern),
    ExternalId(Pattern),
    Tag(String),
    Text(String),
}

/// A WHERE clause being built: numbered placeholders and the values they bind, in order.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    fn text(&mut self, text: impl Into<String>) -> String {
        self.bind(Param::Text(text.into()))
    }

    /// `NOT COALESCE(…, FALSE)` so that a negated test on an empty column (no e-mail address)
    /// counts as not matching, as a reader of `-email:…` expects.
    fn push(&mut self, negated: bool, clause: String) {
        if negated {
            self.clauses.push(format!("NOT COALESCE(({clause}), FALSE)"));
        } else {
            self.clauses.push(format!("({clause})"));
        }
    }

    /// `LOWER(column)` compared with a pattern, case-insensitively.
    fn like(&mut self, column: &str, pattern: &Pattern) -> String {
        let p = self.text(pattern.to_like().to_lowercase());
        format!("LOWER({column}) LIKE {p} ESCAPE '\\'")
    }

    /// `column` holds the id the pattern spells, or a row of `table` whose `name_column` matches.
    fn id_or_named(&mut self, column: &str, pattern: &Pattern, table: &str, name_column: &str) -> String {
        if let Pattern::Exact(text) = pattern
            && let Ok(id) = text.trim().parse::<Id>()
        {
            let p = self.bind(Param::Int(id));
            return format!("{column} = {p}");
        }
        let like = self.like(name_column, pattern);
        format!("{column} IN (SELECT id FROM {table} WHERE {like})")
    }

    fn tagged(&mut self, tag: &str) -> String {
        let p = self.text(tag.trim().to_lowercase());
        format!("id IN (SELECT owner_id FROM tag_index WHERE tag = {p})")
    }

    fn field(&mut self, field_id: Id, value: &Pattern) -> String {
        let f = self.bind(Param::Int(field_id));
        let test = match value {
            Pattern::Exact(text) => format!("value = {}", self.text(text.clone())),
            wildcard => self.like("value", wildcard),
        };
        format!("id IN (SELECT owner_id FROM field_values WHERE field_id = {f} AND {test})")
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() { "TRUE".to_owned() } else { self.clauses.join(" AND ") }
    }
}

/// Users whose `known` numbers match: the index probe on the last digits, then the exact rule.
/// An exact search matches a key with the same digits, or the key the number normalizes to
/// (`5135557611` in region US is `+15135557611`).
fn phone_clause(w: &mut Where, store: &Store, phone: &PhoneQuery) -> String {
    let digits = &phone.digits;
    let probe = if digits.len() >= PHONE_TAIL_DIGITS {
        let tail = w.text(phone_tail(digits));
        format!("phone_tail = {tail} AND ")
    } else {
        String::new()
    };
    let test = if phone.suffix {
        let like = w.text(format!("%{digits}"));
        format!("phone_key LIKE {like}")
    } else {
        let plain = w.text(digits.clone());
        let plus = w.text(format!("+{digits}"));
        let mut test = format!("phone_key IN ({plain}, {plus})");
        if let CallerNumber::Number(key) = store.phones().normalize(digits) {
            let normalized = w.text(key.as_str());
            test = format!("phone_key IN ({plain}, {plus}, {normalized})");
        }
        test
    };
    format!("id IN (SELECT user_id FROM caller_index WHERE {probe}level = 'known' AND {test})")
}

fn user_where(store: &Store, conditions: &[Condition<UserTest>]) -> Where {
    let mut w = Where::default();
    w.push(false, "active".to_owned());
    for Condition { negated, test } in conditions {
        let clause = match test {
            UserTest::Id(id) => format!("id = {}", w.bind(Param::Int(*id))),
            UserTest::Role(role) => format!("role = {}", w.text(role.as_str())),
            UserTest::Phone(phone) => phone_clause(&mut w, store, phone),
            UserTest::Email(Pattern::Exact(email)) => format!("email_lower = {}", w.text(email.trim().to_lowercase())),
            UserTest::Email(pattern) => w.like("email_lower", pattern),
            UserTest::Name(pattern) => w.like("name", pattern),
            UserTest::ExternalId(Pattern::Exact(id)) => format!("external_id = {}", w.text(id.clone())),
            UserTest::ExternalId(pattern) => w.like("external_id", pattern),
            UserTest::Tag(tag) => w.tagged(tag),
            UserTest::Organization(pattern) => w.id_or_named("organization_id", pattern, "organizations", "name"),
            UserTest::Field { field_id, value } => w.field(*field_id, value),
            UserTest::AgentId(agent_id) => format!("agent_id = {}", w.text(agent_id.clone())),
            UserTest::Text(word) => {
                let contains = Pattern::read(&format!("*{word}*"), false);
                let name = w.like("name", &contains);
                let email = w.like("email_lower", &contains);
                let digits = ctihub_domain::search::digits(word);
                if digits.len() >= PHONE_TAIL_DIGITS && digits.len() * 2 >= word.len() {
                    let phone = phone_clause(&mut w, store, &PhoneQuery { digits, suffix: true });
                    format!("{name} OR {email} OR {phone}")
                } else {
                    format!("{name} OR {email}")
                }
            }
        };
        w.push(*negated, clause);
    }
    w
}

fn ticket_where(conditions: &[Condition<TicketTest>]) -> Where {
    let mut w = Where::default();
    for Condition { negated, test } in conditions {
        let clause = match test {
            TicketTest::Id(id) => format!("id = {}", w.bind(Param::Int(*id))),
            TicketTest::Status(status) => format!("status = {}", w.text(status.as_str())),
            TicketTest::Priority(priority) => format!("priority = {}", w.text(priority.as_str())),
            TicketTest::TicketType(kind) => format!("ticket_type = {}", w.text(kind.as_str())),
            TicketTest::Requester(who) => user_ref(&mut w, "requester_id", who),
            TicketTest::Assignee(who) => user_ref(&mut w, "assignee_id", who),
            TicketTest::Group(pattern) => w.id_or_named("group_id", pattern, "agent_groups", "name"),
            TicketTest::Organization(pattern) => w.id_or_named("organization_id", pattern, "organizations", "name"),
            TicketTest::Tag(tag) => w.tagged(tag),
            TicketTest::Field { field_id, value } => w.field(*field_id, value),
            TicketTest::Subject(pattern) => w.like("subject", &contains(pattern)),
            TicketTest::Description(pattern) => w.like("description", &contains(pattern)),
            TicketTest::ExternalId(Pattern::Exact(id)) => format!("external_id = {}", w.text(id.clone())),
            TicketTest::ExternalId(pattern) => w.like("external_id", pattern),
            TicketTest::Via(channel) => {
                // `via` is the JSON of the channel and source; the channel is its first key.
                let p = w.text(format!("{{\"channel\":\"{channel}\"%"));
                format!("via LIKE {p}")
            }
            TicketTest::Text(word) => {
                let pattern = Pattern::read(&format!("*{word}*"), false);
                let subject = w.like("subject", &pattern);
                let description = w.like("description", &pattern);
                match word.trim().parse::<Id>() {
                    Ok(id) => format!("{subject} OR {description} OR id = {}", w.bind(Param::Int(id))),
                    Err(_) => format!("{subject} OR {description}"),
                }
            }
        };
        w.push(*negated, clause);
    }
    w
}

/// Words in a subject or description match anywhere in it, as Zendesk's full-text search does.
fn contains(pattern: &Pattern) -> Pattern {
    match pattern {
        Pattern::Exact(text) => Pattern::read(&format!("*{text}*"), false),
        wildcard => wildcard.clone(),
    }
}

/// A ticket's user column: an id, `none`, or a user by e-mail address or name.
fn user_ref(w: &mut Where, column: &str, who: &Pattern) -> String {
    if let Pattern::Exact(text) = who {
        if text.eq_ignore_ascii_case("none") {
            return format!("{column} IS NULL");
        }
        if let Ok(id) = text.trim().parse::<Id>() {
            return format!("{column} = {}", w.bind(Param::Int(id)));
        }
    }
    let email = w.like("email_lower", who);
    let name = w.like("name", who);
    format!("{column} IN (SELECT id FROM users WHERE {email} OR {name})")
}

fn organization_where(conditions: &[Condition<OrganizationTest>]) -> Where {
    let mut w = Where::default();
    for Condition { negated, test } in conditions {
        let clause = match test {
            OrganizationTest::Id(id) => format!("id = {}", w.bind(Param::Int(*id))),
            OrganizationTest::Name(pattern) => w.like("name", pattern),
            OrganizationTest::ExternalId(Pattern::Exact(id)) => format!("external_id = {}", w.text(id.clone())),
            OrganizationTest::ExternalId(pattern) => w.like("external_id", pattern),
            OrganizationTest::Tag(tag) => w.tagged(tag),
            OrganizationTest::Text(word) => w.like("name", &Pattern::read(&format!("*{word}*"), false)),
        };
        w.push(*negated, clause);
    }
    w
}

/// Run `SELECT columns FROM table WHERE …` for one page, and the count of every match.
macro_rules! search_page {
    ($store:expr, $row:ty, $columns:expr, $table:literal, $where:expr, $offset:expr, $limit:expr) => {{
        let w: Where = $where;
        let filter = w.sql();
        let n = w.params.len();
        let select = sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE {filter} ORDER BY id LIMIT ${} OFFSET ${}",
            $columns,
            $table,
            n + 1,
            n + 2
        ));
        let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {} WHERE {filter}", $table));
        let mut page_params = w.params.clone();
        page_params.push(Param::Int($limit));
        page_params.push(Param::Int($offset));
        let fetch_rows = $limit > 0;
        let (rows, total): (Vec<$row>, i64) = on_pool!($store, |pool, PG| {
            let rows = if fetch_rows {
                bind_params!(sqlx::query_as(select), &page_params).fetch_all(pool).await?
            } else {
                Vec::new()
            };
            let total = bind_params!(sqlx::query_scalar(count), &w.params).fetch_one(pool).await?;
            (rows, total)
        });
        (rows, total)
    }};
}

impl Store {
    /// Active users meeting every condition, in id order, `limit` from `offset`, and how many
    /// match in all. A `limit` of 0 only counts.
    pub async fn search_users(
        &self,
        conditions: &[Condition<UserTest>],
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<User>, i64)> {
        let (rows, total) =
            search_page!(self, UserRow, USER_COLUMNS, "users", user_where(self, conditions), offset, limit);
        Ok((rows.into_iter().map(User::try_from).collect::<StoreResult<_>>()?, total))
    }

    /// Tickets meeting every condition, in id order, and how many match in all.
    pub async fn search_tickets(
        &self,
        conditions: &[Condition<TicketTest>],
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<Ticket>, i64)> {
        let (rows, total) =
            search_page!(self, TicketRow, TICKET_COLUMNS, "tickets", ticket_where(conditions), offset, limit);
        Ok((rows.into_iter().map(Ticket::try_from).collect::<StoreResult<_>>()?, total))
    }

    /// Organizations meeting every condition, in id order, and how many match in all.
    pub async fn search_organizations(
        &self,
        conditions: &[Condition<OrganizationTest>],
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<Organization>, i64)> {
        let (rows, total) =
            search_page!(self, OrgRow, ORG_COLUMNS, "organizations", organization_where(conditions), offset, limit);
        Ok((rows.into_iter().map(Organization::try_from).collect::<StoreResult<_>>()?, total))
    }
}
