//! A replica in a folder: its configuration, its RocksDB store, and every operation that works
//! offline (writing events, reading documents, listing and resolving conflicts).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tideline_protocol::event::{DocId, EventId, Hlc, ReplicaId, VerifiedEvent};
use tideline_protocol::http::{open_conflicts, OpenConflictsError};
use tideline_protocol::merge::{Conflict, ConflictId, ConflictKind, Decision, DocKey, DocState};
use tideline_protocol::replica::apply;
use tideline_protocol::store::ReadStore;
use tideline_protocol::sync::SyncError;
use tideline_protocol::tree::{Digest, Path as TreePath, Tree};
use tideline_protocol::wire::Groups;
use tideline_protocol::write::{self, Author, LocalWrite, WriteContext, WriteOp};
use tideline_store::{RocksStore, StoreError, StoreOptions};

use crate::config::{Config, STORE_DIR};
use crate::http::ServerUrl;
use crate::json;
use crate::token::Claims;
use crate::ClientError;

/// How many keys the search for a conflict outside the user's inbox reads at a time.
const SCAN_CHUNK_KEYS: usize = 1024;

/// A local replica: a folder with `config.json` and a RocksDB store.
///
/// Every method but [`Replica::sync`] and [`Replica::watch`] works offline. The store is held
/// open (and locked) for as long as the `Replica` lives, so one process at a time can use a
/// folder.
#[derive(Debug)]
pub struct Replica {
    pub(crate) dir: PathBuf,
    pub(crate) config: Config,
    pub(crate) claims: Claims,
    pub(crate) url: ServerUrl,
    pub(crate) replica_id: ReplicaId,
    pub(crate) store: RocksStore,
}

/// What a write produced: the document it changed and the new event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The document.
    pub doc: DocId,
    /// The event that was written.
    pub event: EventId,
}

/// An open conflict with the document it belongs to; [`ConflictEntry::to_json`] is the object
/// of spec §15.7. The same type the server lists its conflicts with.
pub use tideline_protocol::http::OpenConflict as ConflictEntry;

/// Parses a conflict id from its hex text.
pub fn parse_conflict_id(text: &str) -> Result<ConflictId, ClientError> {
    // An event id and a conflict id have the same shape; reuse its parser and its messages.
    EventId::from_hex(text)
        .map(|id| ConflictId(id.0))
        .map_err(|source| ClientError::InvalidId {
            what: "conflict id",
            source,
        })
}

/// Parses a document id from its hex text.
pub fn parse_doc_id(text: &str) -> Result<DocId, ClientError> {
    DocId::from_hex(text).map_err(|source| ClientError::InvalidId {
        what: "document id",
        source,
    })
}

/// Milliseconds since the Unix epoch by the system clock; 0 for a clock set before 1970, which
/// the hybrid logical clock then carries past.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The time and randomness of a write from the system clock and the thread's random number
/// generator: what [`Replica::create`] and the other writes without `_at` use.
pub fn system_context() -> WriteContext {
    WriteContext {
        now_ms: now_ms(),
        random: rand::random(),
    }
}

impl Replica {
    /// Creates a replica in `dir` (made if missing) for the server at `server_url`, acting with
    /// `token`, and opens it.
    ///
    /// On a folder that already holds a replica, this replaces the server URL and the token
    /// (for example once the old token expired) and keeps the replica's id, clock and data;
    /// the new token must be for the same user.
    pub fn init(
        dir: impl AsRef<Path>,
        server_url: &str,
        token: &str,
    ) -> Result<Replica, ClientError> {
        let dir = dir.as_ref();
        ServerUrl::parse(server_url)?;
        let claims = Claims::from_token(token)?;
        fs::create_dir_all(dir)
            .map_err(|error| ClientError::io(format!("creating {}", dir.display()), error))?;
        let config = match Config::load(dir) {
            Ok(existing) => {
                let replica_user = Claims::from_token(&existing.token)
                    .map(|old| old.sub)
                    .map_err(|error| ClientError::Config {
                        path: Config::path(dir),
                        detail: format!("its token: {error}"),
                    })?;
                if replica_user != claims.sub {
                    return Err(ClientError::UserMismatch {
                        replica_user,
                        token_user: claims.sub,
                    });
                }
                Config {
                    server_url: server_url.to_owned(),
                    token: token.trim().to_owned(),
                    ..existing
                }
            }
            Err(ClientError::NotInitialized { .. }) => {
                Config::new(server_url.to_owned(), token.trim().to_owned())
            }
            Err(error) => return Err(error),
        };
        config.save(dir)?;
        Replica::open(dir)
    }

    /// Opens the replica in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Replica, ClientError> {
        let dir = dir.as_ref();
        let config = Config::load(dir)?;
        let claims = Claims::from_token(&config.token)?;
        let url = ServerUrl::parse(&config.server_url)?;
        let replica_id = config.replica_id().map_err(|detail| ClientError::Config {
            path: Config::path(dir),
            detail,
        })?;
        let store = RocksStore::open(&dir.join(STORE_DIR), StoreOptions { sync_writes: true })
            .map_err(|error| match error {
                // RocksDB reports a held lock only in its message: "While lock file: ... LOCK:
                // Resource temporarily unavailable", or "lock hold by current process".
                StoreError::Rocks(ref rocks) if rocks.to_string().contains("lock") => {
                    ClientError::Busy {
                        dir: dir.to_owned(),
                    }
                }
                error => ClientError::Store(error),
            })?;
        Ok(Replica {
            dir: dir.to_owned(),
            config,
            claims,
            url,
            replica_id,
            store,
        })
    }

    /// The user this replica writes as: the token's `sub`.
    pub fn user(&self) -> &str {
        &self.claims.sub
    }

    /// The groups the token grants.
    pub fn groups(&self) -> &[String] {
        &self.claims.groups
    }

    /// This replica's id: the `origin` of its events.
    pub fn id(&self) -> ReplicaId {
        self.replica_id
    }

    /// The server URL.
    pub fn server_url(&self) -> &str {
        self.url.as_str()
    }

    /// The last timestamp this replica issued or observed.
    pub fn clock(&self) -> Hlc {
        self.config.hlc
    }

    /// The store, for reading what the replica holds.
    pub fn store(&self) -> &RocksStore {
        &self.store
    }

    /// Creates a document from a JSON object, with a new id, at the system clock's time.
    pub fn create(
        &mut self,
        group: &str,
        collection: &str,
        document: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        self.create_at(system_context(), group, collection, document)
    }

    /// [`Replica::create`] with the time and random bytes of `context`: the timestamp ticks
    /// the replica's clock to `context.now_ms`, and the new id comes from the timestamp and
    /// `context.random` ([`write::seal`]).
    pub fn create_at(
        &mut self,
        context: WriteContext,
        group: &str,
        collection: &str,
        document: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        self.claims.check_group(group)?;
        let document = json::document_from_json(document)?;
        self.write(context, group, collection, WriteOp::Create(document))
    }

    /// Changes fields of a document: `patch` is a JSON object from dot-separated paths to new
    /// values, `null` removing the field (see [`json::patch_from_json`]).
    pub fn update(
        &mut self,
        group: &str,
        collection: &str,
        id: DocId,
        patch: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        self.update_at(system_context(), group, collection, id, patch)
    }

    /// [`Replica::update`] at the time of `context`.
    pub fn update_at(
        &mut self,
        context: WriteContext,
        group: &str,
        collection: &str,
        id: DocId,
        patch: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        self.claims.check_group(group)?;
        let patch = json::patch_from_json(patch)?;
        let op = WriteOp::Update { target: id, patch };
        self.write(context, group, collection, op)
    }

    /// Removes a document.
    pub fn remove(
        &mut self,
        group: &str,
        collection: &str,
        id: DocId,
    ) -> Result<Written, ClientError> {
        self.remove_at(system_context(), group, collection, id)
    }

    /// [`Replica::remove`] at the time of `context`.
    pub fn remove_at(
        &mut self,
        context: WriteContext,
        group: &str,
        collection: &str,
        id: DocId,
    ) -> Result<Written, ClientError> {
        self.claims.check_group(group)?;
        self.write(context, group, collection, WriteOp::Remove { target: id })
    }

    /// A document as JSON, with its id under `"_id"`.
    pub fn get(
        &self,
        group: &str,
        collection: &str,
        id: DocId,
    ) -> Result<serde_json::Value, ClientError> {
        self.claims.check_group(group)?;
        let doc = DocKey {
            group: group.to_owned(),
            collection: collection.to_owned(),
            target: id,
        };
        let state = write::live_state(&self.store, &doc)?;
        Ok(printable(doc.target, &state))
    }

    /// Every document of a collection as JSON, each with its id under `"_id"`, ordered by id.
    /// Removed documents are left out.
    pub fn find(
        &self,
        group: &str,
        collection: &str,
    ) -> Result<Vec<serde_json::Value>, ClientError> {
        self.claims.check_group(group)?;
        Ok(self
            .store
            .docs(group, collection)?
            .into_iter()
            .filter(|(_, state)| state.value.is_some())
            .map(|(doc, state)| printable(doc.target, &state))
            .collect())
    }

    /// The open conflicts assigned to this replica's user in the token's groups, ordered by
    /// conflict id: the list `GET /v1/conflicts` gives for the same events.
    pub fn conflicts(&self) -> Result<Vec<ConflictEntry>, ClientError> {
        let groups = Groups::new(self.claims.groups.iter().cloned())?;
        open_conflicts(&self.store, &self.claims.sub, &groups).map_err(|error| match error {
            OpenConflictsError::Store(error) => ClientError::Store(error),
            // An inbox entry that its document does not back: the replica's store is damaged,
            // with the same remedy as a corrupt record.
            damage => ClientError::Store(StoreError::Corrupt {
                what: "conflict inbox".to_owned(),
                detail: damage.to_string(),
            }),
        })
    }

    /// Resolves a conflict: `decision` is the value to keep at the conflict's path (for a
    /// remove or create conflict, the whole document), or JSON `null` to delete the field
    /// (remove the document). The resolution's base is the document's current heads, so it
    /// overrides every competing change once it reaches the other replicas.
    ///
    /// Any user of the document's group may resolve a conflict, not only its assignees.
    pub fn resolve(
        &mut self,
        conflict_id: ConflictId,
        decision: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        self.resolve_at(system_context(), conflict_id, decision)
    }

    /// [`Replica::resolve`] at the time of `context`.
    pub fn resolve_at(
        &mut self,
        context: WriteContext,
        conflict_id: ConflictId,
        decision: &serde_json::Value,
    ) -> Result<Written, ClientError> {
        let (doc, conflict) = self.find_conflict(conflict_id)?;
        self.claims.check_group(&doc.group)?;
        let decision = match decision {
            serde_json::Value::Null => Decision::Delete,
            value if conflict.kind == ConflictKind::Field && !conflict.path.0.is_empty() => {
                Decision::Keep(json::from_json(value)?)
            }
            document => Decision::Keep(json::document_from_json(document).map_err(|error| {
                ClientError::InvalidInput(format!(
                    "this conflict is about the whole document, so it is resolved with a \
                     document or null: {error}"
                ))
            })?),
        };
        let op = WriteOp::Resolve {
            target: doc.target,
            conflict: conflict_id,
            decision,
        };
        self.write(context, &doc.group, &doc.collection, op)
    }

    /// The root digest of a group's hash tree: two replicas with equal roots hold the same
    /// events of that group.
    pub fn root(&self, group: &str) -> Result<Digest, ClientError> {
        self.claims.check_group(group)?;
        Ok(Tree::new(&self.store).root(group)?)
    }

    /// Adds events that arrived from elsewhere (a sync, the live stream, an import): stores
    /// them, merges the documents they touch, and moves the clock past their timestamps.
    /// Returns how many were new.
    pub fn apply_events(&mut self, events: &[VerifiedEvent]) -> Result<usize, ClientError> {
        self.apply_events_at(now_ms(), events)
    }

    /// [`Replica::apply_events`] with the wall clock at `now_ms`, which the clock moves to if
    /// it is ahead of every timestamp seen.
    pub fn apply_events_at(
        &mut self,
        now_ms: u64,
        events: &[VerifiedEvent],
    ) -> Result<usize, ClientError> {
        if let Some(event) = events
            .iter()
            .find(|event| !self.claims.grants(&event.event().group))
        {
            return Err(ClientError::Protocol(SyncError::GroupForbidden {
                id: event.id(),
                group: event.event().group.clone(),
            }));
        }
        let inserted = apply(&mut self.store, events)?;
        if let Some(latest) = events.iter().map(|event| event.event().timestamp).max() {
            let observed = Hlc::observe(self.config.hlc, latest, now_ms);
            self.save_clock(observed)?;
        }
        Ok(inserted.len())
    }

    /// Finds an open conflict: first in the user's inbox, then, for a conflict assigned to
    /// someone else, by visiting every document of the token's groups. The second search reads
    /// every event once; it only runs when a user resolves someone else's conflict.
    fn find_conflict(&self, id: ConflictId) -> Result<(DocKey, Conflict), ClientError> {
        let in_state = |doc: DocKey, state: DocState| {
            let conflict = state
                .conflicts
                .into_iter()
                .find(|conflict| conflict.id == id)?;
            Some((doc, conflict))
        };
        if let Some(open) = self
            .conflicts()?
            .into_iter()
            .find(|open| open.conflict.id == id)
        {
            return Ok((open.doc, open.conflict));
        }
        for group in &self.claims.groups {
            let mut visited: BTreeSet<DocKey> = BTreeSet::new();
            let mut after = None;
            loop {
                let keys =
                    self.store
                        .keys(group, &TreePath::root(), after.as_ref(), SCAN_CHUNK_KEYS)?;
                for key in &keys {
                    let bytes =
                        self.store
                            .event(&key.id())?
                            .ok_or_else(|| StoreError::Corrupt {
                                what: format!("event {}", key.id()),
                                detail: "the key index names it but the store lacks it".to_owned(),
                            })?;
                    let event =
                        VerifiedEvent::decode(&bytes).map_err(|error| StoreError::Corrupt {
                            what: format!("event {}", key.id()),
                            detail: error.to_string(),
                        })?;
                    let doc = DocKey::of(event.event());
                    if visited.insert(doc.clone()) {
                        if let Some(state) = self.store.doc_state(&doc)? {
                            if let Some(found) = in_state(doc, state) {
                                return Ok(found);
                            }
                        }
                    }
                }
                if keys.len() < SCAN_CHUNK_KEYS {
                    break;
                }
                after = keys.last().copied();
            }
        }
        Err(ClientError::ConflictNotFound { id: id.to_string() })
    }

    /// Writes a local event with this replica's user, origin and clock ([`write::seal`]), and
    /// stores it. Its timestamp is saved as the clock first: should the process stop between
    /// the two, the clock is ahead of the stored events, never behind.
    fn write(
        &mut self,
        context: WriteContext,
        group: &str,
        collection: &str,
        op: WriteOp,
    ) -> Result<Written, ClientError> {
        let author = Author {
            user: &self.claims.sub,
            replica: self.replica_id,
        };
        let write = LocalWrite {
            group,
            collection,
            op,
        };
        let event = write::seal(&self.store, author, self.config.hlc, context, write)?;
        self.save_clock(event.hlc())?;
        event.apply(&mut self.store)?;
        Ok(Written {
            doc: event.event().event().target,
            event: event.event().id(),
        })
    }

    fn save_clock(&mut self, hlc: Hlc) -> Result<(), ClientError> {
        if hlc == self.config.hlc {
            return Ok(());
        }
        let mut config = self.config.clone();
        config.hlc = hlc;
        config.save(&self.dir)?;
        self.config = config;
        Ok(())
    }
}

/// A document as the client prints it: its fields and `"_id"`.
fn printable(target: DocId, state: &DocState) -> serde_json::Value {
    let mut document = match state.value.as_ref().map(json::to_json) {
        Some(serde_json::Value::Object(fields)) => fields,
        // Creates hold objects and updates keep the root an object; anything else would be a
        // bug in merge, so show it rather than hide it.
        Some(other) => {
            let mut fields = serde_json::Map::new();
            fields.insert("_value".to_owned(), other);
            fields
        }
        None => serde_json::Map::new(),
    };
    document.insert(
        json::ID_KEY.to_owned(),
        serde_json::Value::String(target.to_string()),
    );
    serde_json::Value::Object(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tideline_protocol::event::FieldPath;
    use tideline_protocol::merge::{Conflict, ConflictId};
    use tideline_protocol::value::Value;

    fn entry(provisional: Option<Value>) -> serde_json::Value {
        ConflictEntry {
            doc: DocKey {
                group: "g".into(),
                collection: "notes".into(),
                target: DocId([1; 16]),
            },
            conflict: Conflict {
                id: ConflictId([2; 32]),
                kind: ConflictKind::Field,
                path: FieldPath(vec!["title".into()]),
                competing: Vec::new(),
                winner: EventId([3; 32]),
                provisional,
                assignees: vec!["alice".into()],
            },
        }
        .to_json()
    }

    #[test]
    fn provisional_is_absent_for_no_value_and_null_for_a_null_value() {
        // Guards against a user unable to tell a deleted field from one set to null (§15.7).
        assert_eq!(entry(None).get("provisional"), None);
        assert_eq!(
            entry(Some(Value::Null)).get("provisional"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(entry(Some(Value::Int(4)))["provisional"], 4);
    }
}
