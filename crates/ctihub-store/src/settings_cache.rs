//! Settings documents kept parsed between reads.
//!
//! Every PBX event needs the CTI configuration, and parsing it anew each time cost more than
//! recording the event (a notify map of a thousand agents is 12 KB of JSON). So a document is
//! parsed again only when its stored text changed. On an SQLite file the text is not even read
//! again until some other connection has committed (`PRAGMA data_version` on a connection of
//! our own), so an unchanged document costs one pragma. A change from the CLI, the admin API or
//! another node still holds at the very next read.

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;

use crate::json::from_text;
use crate::settings::SETTING_TEXT_SQL;
use crate::{Store, StoreResult};

type Shared = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub(crate) struct SettingsCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// On an SQLite file: tells whether anybody else committed since a document was read.
    probe: Option<CommitProbe>,
}

struct Entry {
    text: String,
    parsed: Shared,
    /// The probe's data version taken before `text` was read: while it holds, `text` is current.
    version: Option<i64>,
}

impl SettingsCache {
    pub(crate) fn for_sqlite_file(path: PathBuf) -> SettingsCache {
        SettingsCache { entries: Mutex::default(), probe: Some(CommitProbe { path, connection: Mutex::new(None) }) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The map is never left half-updated, so a panic elsewhere does not spoil it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The parsed document, if nobody committed since it was read.
    fn unchanged<T: Send + Sync + 'static>(&self, name: &str, version: i64) -> Option<Arc<T>> {
        let entries = self.entries();
        let entry = entries.get(name).filter(|e| e.version == Some(version))?;
        entry.parsed.clone().downcast::<T>().ok()
    }

    /// `text` parsed, reusing the last parse when the text is the same.
    fn parse<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        name: &str,
        text: String,
        version: Option<i64>,
    ) -> StoreResult<Arc<T>> {
        if let Some(entry) = self.entries().get_mut(name)
            && entry.text == text
            && let Ok(parsed) = entry.parsed.clone().downcast::<T>()
        {
            entry.version = version;
            return Ok(parsed);
        }
        // Parsed outside the lock: other documents stay readable meanwhile.
        let parsed: Arc<T> = Arc::new(from_text(name, &text)?);
        self.entries().insert(name.to_owned(), Entry { text, parsed: parsed.clone(), version });
        Ok(parsed)
    }
}

/// A connection that only ever asks `PRAGMA data_version`: the number changes whenever another
/// connection (of this process or any other) commits to the file.
struct CommitProbe {
    path: PathBuf,
    connection: Mutex<Option<Connection>>,
}

/// What the probe saw: the data version, and the document's text when it had to be read again.
struct Probed {
    version: i64,
    text: Option<Option<String>>,
}

impl CommitProbe {
    /// The data version, and `name`'s stored text unless `cached` holds for that version. `None`
    /// when the probe cannot be asked; the caller then reads through the pool.
    ///
    /// The text is read on the probe's own connection: the data version changes with every
    /// commit of the event writer, and a round trip through sqlx's worker thread after each
    /// one cost more than the read itself.
    fn probe(&self, name: &str, cached: impl FnOnce(i64) -> bool) -> Option<Probed> {
        let mut connection = self.connection.lock().unwrap_or_else(PoisonError::into_inner);
        if connection.is_none() {
            match Connection::open(&self.path) {
                Ok(opened) => *connection = Some(opened),
                Err(e) => {
                    tracing::debug!(error = %e, "settings cache: cannot open the commit probe");
                    return None;
                }
            }
        }
        let connection = connection.as_ref()?;
        let asked = (|| {
            let version: i64 = connection.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))?;
            if cached(version) {
                return Ok(Probed { version, text: None });
            }
            let text = connection.prepare_cached(SETTING_TEXT_SQL)?.query_row([name], |row| row.get(0)).optional()?;
            Ok(Probed { version, text: Some(text) })
        })();
        asked.inspect_err(|e: &rusqlite::Error| tracing::debug!(error = %e, "settings cache: probe failed")).ok()
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
        let mut unchanged = None;
        let probed = self.settings.probe.as_ref().and_then(|probe| {
            probe.probe(name, |version| {
                unchanged = self.settings.unchanged(name, version);
                unchanged.is_some()
            })
        });
        if unchanged.is_some() {
            return Ok(unchanged);
        }
        let (version, text) = match probed {
            Some(Probed { version, text: Some(text) }) => (Some(version), text),
            _ => (None, self.setting_text(name).await?),
        };
        let Some(text) = text else {
            self.settings.entries().remove(name);
            return Ok(None);
        };
        self.settings.parse(name, text, version).map(Some)
    }
}
