//! ctihub's domain: the types every dialect maps into and the rules that need no I/O.
//!
//! Values here are parsed once at the edge (`Role::parse`, `Email::parse`, `PhoneNormalizer`)
//! so the store and the services never re-check them.

pub mod call;
pub mod cti;
pub mod custom_field;
pub mod error;
pub mod journal;
pub mod organization;
pub mod phone;
pub mod report;
pub mod routing;
pub mod search;
pub mod ticket;
pub mod time;
pub mod user;

pub use error::DomainError;

/// Every record shares one id space. Ids stay below 2^53 so JavaScript clients read them exactly.
pub type Id = i64;

/// The largest id ctihub hands out: JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_ID: Id = (1 << 53) - 1;

/// Tags are lower-case words without spaces, as Zendesk stores them.
pub fn normalize_tags<I, S>(tags: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        for word in tag.as_ref().split([' ', ',']) {
            let word = word.trim().to_lowercase();
            if !word.is_empty() && !out.contains(&word) {
                out.push(word);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_split_lowercased_and_deduplicated() {
        assert_eq!(normalize_tags(["VIP gold", "vip", " ,x"]), vec!["vip", "gold", "x"]);
    }
}
