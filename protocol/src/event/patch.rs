//! Patches (spec §4.6): the fields an update sets or removes, by path from the document's
//! root, and the rules that give each patch one meaning and one encoding.

use serde::{Deserialize, Serialize};

use super::error::EventError;
use crate::limits;
use crate::value::{Value, ValueError};

/// Where a field sits inside a document, as object keys from the root: `["address", "city"]`.
///
/// Paths order segment by segment, by bytes, and a path sorts before every longer path it is a
/// prefix of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    /// Whether `other` lies strictly inside the field this path names.
    pub fn is_proper_prefix_of(&self, other: &FieldPath) -> bool {
        self.0.len() < other.0.len() && other.0.starts_with(&self.0)
    }
}

/// The fields an update changes: `None` removes a field, `Some(value)` sets it, creating any
/// missing objects along its path.
///
/// Entries are sorted by path and no path lies inside another, so a patch has one meaning and
/// one encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch(pub Vec<(FieldPath, Option<Value>)>);

pub(super) fn patch_check(patch: &Patch) -> Result<(), EventError> {
    let entries = &patch.0;
    if entries.is_empty() {
        return Err(EventError::PatchEmpty);
    }
    if entries.len() > limits::PATCH_ENTRIES_MAX {
        return Err(EventError::PatchTooLong {
            entries: entries.len(),
            entries_max: limits::PATCH_ENTRIES_MAX,
        });
    }
    for (index, (path, value)) in entries.iter().enumerate() {
        if !path_is_valid(path) {
            return Err(EventError::PatchPathInvalid { index });
        }
        if index > 0 {
            let path_previous = &entries[index - 1].0;
            if path_previous >= path {
                return Err(EventError::PatchNotAscending { index });
            }
            // In sorted order, a path that lies inside any earlier path lies inside the one
            // just before it, so checking neighbours finds every overlap.
            if path_previous.is_proper_prefix_of(path) {
                return Err(EventError::PatchPathOverlaps { index });
            }
        }
        if let Some(value) = value {
            // The value lands `path.len()` levels down in the document, so the document stays
            // within `VALUE_DEPTH_MAX` only if the value leaves room for the path.
            let depth_max = limits::VALUE_DEPTH_MAX - path.0.len();
            value
                .validate_with_depth_max(depth_max)
                .map_err(|source| match source {
                    ValueError::TooDeep { .. } => {
                        EventError::PatchValueTooDeep { index, depth_max }
                    }
                    source => EventError::PatchValueInvalid { index, source },
                })?;
        }
    }
    Ok(())
}

fn path_is_valid(path: &FieldPath) -> bool {
    (1..=limits::PATH_SEGMENTS_MAX).contains(&path.0.len())
        && path
            .0
            .iter()
            .all(|segment| (1..=limits::PATH_SEGMENT_BYTES_MAX).contains(&segment.len()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{nested, path, with_patch};
    use super::super::VerifiedEvent;
    use super::*;

    #[test]
    fn patch_value_depth_counts_its_path() {
        // Guards against a patch that builds a document deeper than any create could hold.
        let fits = with_patch(vec![(
            path(&["a", "b"]),
            Some(nested(limits::VALUE_DEPTH_MAX - 2)),
        )]);
        fits.clone().seal().unwrap();
        VerifiedEvent::decode(&fits.encode()).unwrap();

        let too_deep = with_patch(vec![(
            path(&["a", "b"]),
            Some(nested(limits::VALUE_DEPTH_MAX - 1)),
        )]);
        assert!(matches!(
            VerifiedEvent::decode(&too_deep.encode()),
            Err(EventError::PatchValueTooDeep { index: 0, .. })
        ));
    }
}
