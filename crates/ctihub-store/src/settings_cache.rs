//! Settings documents kept parsed between reads.
//!
//! Every PBX event needs the CTI configuration, and parsing it anew each time cost more than
//! recording the event (a notify map of a thousand agents is 12 KB of JSON). So a document is
//! parsed again only when its stored text changed, and its text is not even read again until
//! the settings' generation moved: a number in one small row that triggers raise at every
//! change to `settings` (migration 0011), whoever makes it (this server, the CLI in another
//! process, another node). A change therefore still holds at the very next read.
//!
//! The generation replaced SQLite's `PRAGMA data_version`, which moves at every commit to the
//! file: with the event writer committing hundreds of times a second, the document was read
//! again and compared at nearly every event.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::OptionalExtension;
use serde::de::DeserializeOwned;

use crate::json::from_text;
use crate::settings::SETTING_TEXT_SQL;
use crate::{Store, StoreResult, on_pool};

type Shared = Arc<dyn Any + Send + Sync>;

pub(crate) const GENERATION_SQL: &str = "SELECT value FROM settings_generation";

#[derive(Default)]
pub(crate) struct SettingsCache {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    text: String,
    parsed: Shared,
    /// The settings' generation read before `text` was: while it holds, `text` is current.
    generation: i64,
}

/// What a read found.
enum Read {
    /// The cached document is current.
    Current,
    /// It is not (or there is none): the document's text (`None`: no such setting) as of
    /// `generation`.
    Changed { generation: i64, text: Option<String> },
}

impl SettingsCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The map is never left half-updated, so a panic elsewhere does not spoil it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The parsed document, if it was read at `generation`.
    fn current<T: Send + Sync + 'static>(&self, name: &str, generation: i64) -> Option<Arc<T>> {
        let entries = self.entries();
        let entry = entries.get(name).filter(|e| e.generation == generation)?;
        entry.parsed.clone().downcast::<T>().ok()
    }

    /// `text` parsed, reusing the last parse when the text is the same.
    fn parse<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        name: &str,
        text: String,
        generation: i64,
    ) -> StoreResult<Arc<T>> {
        if let Some(entry) = self.entries().get_mut(name)
            && entry.text == text
            && let Ok(parsed) = entry.parsed.clone().downcast::<T>()
        {
            entry.generation = generation;
            return Ok(parsed);
        }
        // Parsed outside the lock: other documents stay readable meanwhile.
        let parsed: Arc<T> = Arc::new(from_text(name, &text)?);
        self.entries().insert(name.to_owned(), Entry { text, parsed: parsed.clone(), generation });
        Ok(parsed)
    }
}

impl Store {
    /// Setting `name` parsed as `T` and shared: the same parse is handed out until the stored
    /// document changes. For hot paths; a caller that wants to change the document uses
    /// [`Store::get_setting`].
    pub async fn get_setting_shared<T>(&self, name: &str) -> StoreResult<Option<Arc<T>>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let mut cached = None;
        let read = self
            .read_setting_since(name, |generation| {
                cached = self.settings.current(name, generation);
                cached.is_some()
            })
            .await?;
        match read {
            Read::Current => Ok(cached),
            Read::Changed { generation, text: Some(text) } => self.settings.parse(name, text, generation).map(Some),
            Read::Changed { text: None, .. } => {
                self.settings.entries().remove(name);
                Ok(None)
            }
        }
    }

    /// Setting `name` as it was last read and parsed, with the settings' generation it was read
    /// at, without reading anything; `None` when it was not read yet (or is not set). Whoever
    /// acts on it must confirm the generation is still current: the ledger writer does so
    /// inside its batch ([`crate::SqliteLedger::settings_generation`]), where no change can
    /// commit meanwhile.
    pub fn cached_setting<T: Send + Sync + 'static>(&self, name: &str) -> Option<(Arc<T>, i64)> {
        let entries = self.settings.entries();
        let entry = entries.get(name)?;
        Some((entry.parsed.clone().downcast::<T>().ok()?, entry.generation))
    }

    /// The settings' generation, then `name`'s text unless `holds` says the document cached at
    /// that generation is current. In that order: a change between the two reads leaves a
    /// newer text under an older generation, which costs one more read later, never a stale
    /// document. On an SQLite file both are point reads on the request's own thread.
    async fn read_setting_since(&self, name: &str, holds: impl FnOnce(i64) -> bool) -> StoreResult<Read> {
        if let Some(reader) = &self.reader {
            return reader
                .read_here(|conn| {
                    let generation: i64 = conn.prepare_cached(GENERATION_SQL)?.query_row([], |row| row.get(0))?;
                    if holds(generation) {
                        return Ok(Read::Current);
                    }
                    let text = conn.prepare_cached(SETTING_TEXT_SQL)?.query_row([name], |row| row.get(0)).optional()?;
                    Ok(Read::Changed { generation, text })
                })
                .await;
        }
        let generation: i64 = on_pool!(self, |pool, PG| sqlx::query_scalar(GENERATION_SQL).fetch_one(pool).await?);
        if holds(generation) {
            return Ok(Read::Current);
        }
        Ok(Read::Changed { generation, text: self.setting_text(name).await? })
    }
}
