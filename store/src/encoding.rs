//! The byte layout of every column family's keys, and the checked decoding of values.
//!
//! Group names, collection names and user ids never contain 0x00: event validation
//! (`name_is_valid` and `creator_is_valid` in `tideline_protocol::event`) allows group and
//! collection names only ASCII letters, digits and `.` `_` `-` `:`, and creators only the
//! printable ASCII bytes 0x21 to 0x7E. Inbox users are the creators of conflicting events.
//! So `name ‖ 0x00 ‖ rest` is unambiguous, and since 0x00 sorts below every byte a name can
//! hold, byte order over such keys is the order of `(name, rest)`: a shorter name sorts before
//! any longer name it is a prefix of, exactly as `String`'s `Ord` does.

use serde::de::DeserializeOwned;
use tideline_protocol::event::EventId;
use tideline_protocol::merge::{ConflictId, DocKey};
use tideline_protocol::tree::{Key, Node, Path, KEY_BYTES, KEY_NIBBLES};

use crate::error::StoreError;

/// Ends each name inside a key.
pub(crate) const SEPARATOR: u8 = 0x00;

/// Length of a document id (`DocId`) in bytes.
pub(crate) const TARGET_BYTES: usize = 16;

/// Length of an event id and of a conflict id in bytes.
pub(crate) const ID_BYTES: usize = 32;

/// Whether a name can appear in a key. Names read from outside (a query for a group, a user)
/// are checked with this before they become a prefix: `"a\0"` as a group would otherwise scan
/// group `a`'s keys, whose first bytes are 0x00 for any timestamp before 2^56 ms.
pub(crate) fn name_is_storable(name: &str) -> bool {
    !name.as_bytes().contains(&SEPARATOR)
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    assert!(
        name_is_storable(name),
        "a stored name never contains 0x00; event validation forbids it"
    );
    out.extend_from_slice(name.as_bytes());
    out.push(SEPARATOR);
}

/// `name ‖ 0x00`: the prefix of a group's keys and nodes, or of a user's inbox.
pub(crate) fn name_prefix(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 1);
    push_name(&mut out, name);
    out
}

/// `keys` column family: `group ‖ 0x00 ‖ key (44 bytes)`.
pub(crate) fn key_entry(group: &str, key: &Key) -> Vec<u8> {
    let mut out = name_prefix(group);
    out.extend_from_slice(&key.0);
    out
}

/// `nodes` column family: `group ‖ 0x00 ‖ nibble count (1 byte) ‖ packed nibbles`. Nodes are
/// only looked up by address, so the order this gives does not matter; the count makes the
/// encoding unambiguous (an odd path's padding nibble is zero, like an even path's next one).
pub(crate) fn node_entry(group: &str, address: &Path) -> Vec<u8> {
    assert!(address.len() <= KEY_NIBBLES);
    let packed = address.packed();
    let mut out = name_prefix(group);
    out.reserve(1 + packed.len());
    out.push(u8::try_from(address.len()).expect("a path is at most 88 nibbles"));
    out.extend_from_slice(&packed);
    out
}

/// `group ‖ 0x00 ‖ collection ‖ 0x00`: the prefix of one collection's document keys.
pub(crate) fn collection_prefix(group: &str, collection: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(group.len() + collection.len() + 2 + TARGET_BYTES);
    push_name(&mut out, group);
    push_name(&mut out, collection);
    out
}

/// `doc_states` column family, and the prefix of `doc_events`:
/// `group ‖ 0x00 ‖ collection ‖ 0x00 ‖ target (16 bytes)`. Byte order is [`DocKey`]'s derived
/// order, so one collection's documents come out of a prefix scan ordered by target.
pub(crate) fn doc_entry(doc: &DocKey) -> Vec<u8> {
    let mut out = collection_prefix(&doc.group, &doc.collection);
    out.extend_from_slice(&doc.target.0);
    out
}

/// `doc_events` column family: the document's key followed by the event id (32 bytes).
pub(crate) fn doc_event_entry(doc: &DocKey, id: &EventId) -> Vec<u8> {
    let mut out = doc_entry(doc);
    out.extend_from_slice(&id.0);
    out
}

/// `inbox` column family: `user ‖ 0x00 ‖ conflict id (32 bytes)`.
pub(crate) fn inbox_entry(user: &str, id: &ConflictId) -> Vec<u8> {
    let mut out = name_prefix(user);
    out.extend_from_slice(&id.0);
    out
}

/// The smallest byte string greater than every string that starts with `prefix`, for an
/// exclusive upper bound; `None` when there is none (`prefix` is all 0xFF).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|byte| *byte != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

/// Postcard bytes of a value the store writes. Serializing our own serde types into a `Vec`
/// cannot fail: every sequence has a known length and there is no size limit.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard encodes our types into a Vec")
}

/// Decodes a stored value, all of it: trailing bytes mean the record is not what we wrote.
pub(crate) fn decode<T: DeserializeOwned>(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(StoreError::corrupt(
            what(),
            format!("{} bytes left over after the value", rest.len()),
        )),
        Err(error) => Err(StoreError::corrupt(
            what(),
            format!("does not decode: {error}"),
        )),
    }
}

/// What is wrong with `node` stored at `address`, if anything: [`Node::problem`], the tree's own
/// rule. Checked before every write (as an assertion) and after every read (as a corruption
/// error). The branch digest is not recomputed here: RocksDB's block checksums catch damaged
/// bytes, and this catches records that decode but could not have been written by the tree.
pub(crate) fn node_problem(address: &Path, node: &Node) -> Option<&'static str> {
    node.problem(address)
}

/// The key inside a `keys` entry of `group`, checking its length.
pub(crate) fn key_of_entry(prefix_len: usize, entry: &[u8]) -> Result<Key, StoreError> {
    let rest = &entry[prefix_len..];
    let bytes: [u8; KEY_BYTES] = rest.try_into().map_err(|_| {
        StoreError::corrupt(
            "key index entry",
            format!("{} key bytes where {KEY_BYTES} belong", rest.len()),
        )
    })?;
    Ok(Key(bytes))
}

/// The fixed-length id at the end of an entry, after `prefix_len` bytes.
pub(crate) fn id_of_entry<const N: usize>(
    what: &str,
    prefix_len: usize,
    entry: &[u8],
) -> Result<[u8; N], StoreError> {
    let rest = &entry[prefix_len..];
    rest.try_into().map_err(|_| {
        StoreError::corrupt(
            what,
            format!("{} id bytes after the prefix where {N} belong", rest.len()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tideline_protocol::event::DocId;

    fn doc(group: &str, collection: &str, target: u8) -> DocKey {
        DocKey {
            group: group.into(),
            collection: collection.into(),
            target: DocId([target; TARGET_BYTES]),
        }
    }

    /// Guards against an encoding whose byte order differs from `DocKey`'s order, which would
    /// make `docs` return documents out of order or mix collections whose names share a start.
    #[test]
    fn doc_entries_sort_like_doc_keys() {
        let names = ["a", "a-", "a.b", "ab", "b", "A", "z:z"];
        let mut docs = Vec::new();
        for group in names {
            for collection in names {
                for target in [0x00, 0x01, 0x7F, 0xFF] {
                    docs.push(doc(group, collection, target));
                }
            }
        }
        let mut by_key = docs.clone();
        by_key.sort();
        let mut by_bytes = docs;
        by_bytes.sort_by_key(doc_entry);
        assert_eq!(by_key, by_bytes);
    }

    /// Guards against a group's keys sorting between another group's, which would break
    /// `keys`' range scan for groups whose names share a start.
    #[test]
    fn key_entries_sort_by_group_then_key() {
        let low = Key([0x00; KEY_BYTES]);
        let high = Key([0xFF; KEY_BYTES]);
        let order = [
            key_entry("a", &low),
            key_entry("a", &high),
            key_entry("a-", &low),
            key_entry("ab", &low),
            key_entry("ab", &high),
        ];
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]));
    }

    /// Guards against two node addresses sharing an encoding, such as an odd path and the even
    /// path that continues it with a zero nibble.
    #[test]
    fn node_entries_are_distinct() {
        let odd = Path::from_nibbles(vec![0xA]).unwrap();
        let even = Path::from_nibbles(vec![0xA, 0x0]).unwrap();
        assert_ne!(node_entry("g", &odd), node_entry("g", &even));
        assert_ne!(node_entry("g", &Path::root()), node_entry("g", &odd));
    }

    /// Guards against an upper bound that cuts a prefix scan short or lets it run over.
    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab\0"), Some(b"ab\x01".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }

    /// Guards against a query name with 0x00 reaching a prefix (see `name_is_storable`).
    #[test]
    #[should_panic(expected = "never contains 0x00")]
    fn names_with_separator_are_not_written() {
        key_entry("a\0", &Key([0; KEY_BYTES]));
    }
}
