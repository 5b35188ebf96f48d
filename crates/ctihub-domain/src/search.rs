//! Zendesk's search syntax, read into terms: `type:user role:end-user phone:*5135557611`,
//! `name:"Jane Doe"`, `-tags:spam`, free words. What each term means for users, tickets and
//! organizations is decided where the search runs; this module only reads the text.

/// One space-separated piece of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `-key:value` or `-word`: the term must not match.
    pub negated: bool,
    /// The property before the colon, as written (`agentID` keeps its case; custom field keys
    /// are case-sensitive), or `None` for a free word.
    pub key: Option<String>,
    /// The value with surrounding double quotes removed.
    pub value: String,
    /// The value was written in double quotes: a phrase, and `*` inside it is literal.
    pub quoted: bool,
}

impl Term {
    /// The key compared the way Zendesk's own keywords are: case-insensitively.
    pub fn keyword(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.to_ascii_lowercase())
    }

    /// A value with `*` wildcards (unquoted values only).
    pub fn pattern(&self) -> Pattern {
        Pattern::read(&self.value, self.quoted)
    }
}

/// A value to compare with: exact, or with `*` standing for any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact(String),
    /// Literal pieces between the wildcards, and whether the value starts/ends with one.
    Wildcard {
        pieces: Vec<String>,
        leading: bool,
        trailing: bool,
    },
}

impl Pattern {
    pub fn read(value: &str, quoted: bool) -> Pattern {
        if quoted || !value.contains('*') {
            return Pattern::Exact(value.to_owned());
        }
        Pattern::Wildcard {
            pieces: value.split('*').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            leading: value.starts_with('*'),
            trailing: value.ends_with('*'),
        }
    }

    /// A SQL `LIKE` pattern with `\` as the escape character.
    pub fn to_like(&self) -> String {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        match self {
            Pattern::Exact(text) => escape(text),
            Pattern::Wildcard { pieces, leading, trailing } => {
                let mut like = String::new();
                if *leading {
                    like.push('%');
                }
                like.push_str(&pieces.iter().map(|p| escape(p)).collect::<Vec<_>>().join("%"));
                if *trailing && !like.ends_with('%') {
                    like.push('%');
                }
                like
            }
        }
    }
}

/// Why a query could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Split a query into terms. Whitespace separates terms except inside double quotes; a term's
/// value may be quoted (`name:"Jane Doe"`), and so may a whole free phrase (`"printer fire"`).
pub fn parse_query(query: &str) -> Result<Vec<Term>, QueryError> {
    let mut terms = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let negated = first == '-';
        if negated {
            chars.next();
        }
        let mut head = String::new();
        let mut value = String::new();
        let mut quoted = false;
        let mut key = None;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' {
                quoted = true;
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    value.push(q);
                }
                if !closed {
                    return Err(QueryError(format!("the query has an unclosed quote: {query}")));
                }
                continue;
            }
            if c == ':' && key.is_none() && !quoted {
                key = Some(std::mem::take(&mut head));
                continue;
            }
            if key.is_some() { value.push(c) } else { head.push(c) }
        }
        if key.is_none() {
            head.push_str(&value);
            value = head;
        }
        match &key {
            Some(k) if k.is_empty() => {
                return Err(QueryError(format!("`:{value}` names no property before the colon")));
            }
            Some(k) if value.is_empty() => {
                return Err(QueryError(format!("`{k}:` has no value after the colon")));
            }
            _ => {}
        }
        if key.is_none() && value.is_empty() && !quoted {
            continue;
        }
        terms.push(Term { negated, key, value, quoted });
    }
    Ok(terms)
}

/// The digits of a phone-like value: `+1 (513) 555-7611` → `15135557611`.
pub fn digits(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(negated: bool, key: Option<&str>, value: &str, quoted: bool) -> Term {
        Term { negated, key: key.map(str::to_owned), value: value.to_owned(), quoted }
    }

    #[test]
    fn the_guides_queries_read_as_terms() {
        assert_eq!(
            parse_query("role:end-user phone:*5135557611").unwrap(),
            vec![term(false, Some("role"), "end-user", false), term(false, Some("phone"), "*5135557611", false)]
        );
        assert_eq!(
            parse_query("type:user agentID:1234").unwrap(),
            vec![term(false, Some("type"), "user", false), term(false, Some("agentID"), "1234", false)]
        );
    }

    #[test]
    fn quotes_negation_and_free_words() {
        assert_eq!(
            parse_query(r#"  name:"Jane  Doe" -tags:spam printer "on fire" "#).unwrap(),
            vec![
                term(false, Some("name"), "Jane  Doe", true),
                term(true, Some("tags"), "spam", false),
                term(false, None, "printer", false),
                term(false, None, "on fire", true),
            ]
        );
        assert_eq!(parse_query(r#"phone:"(513) 555-7611""#).unwrap()[0].value, "(513) 555-7611");
        // A colon inside a value belongs to the value.
        assert_eq!(parse_query("external_id:a:b").unwrap()[0].value, "a:b");
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        assert!(parse_query(r#"name:"Jane"#).unwrap_err().0.contains("unclosed quote"));
        assert!(parse_query("role:").unwrap_err().0.contains("no value"));
        assert!(parse_query(":x").unwrap_err().0.contains("no property"));
    }

    #[test]
    fn wildcards_become_like_patterns() {
        assert_eq!(Pattern::read("*5557611", false).to_like(), "%5557611");
        assert_eq!(Pattern::read("jan*", false).to_like(), "jan%");
        assert_eq!(Pattern::read("a*b", false).to_like(), "a%b");
        assert_eq!(Pattern::read("50%_off*", true), Pattern::Exact("50%_off*".into()));
        assert_eq!(Pattern::read("50%_off", false).to_like(), "50\\%\\_off");
    }
}
