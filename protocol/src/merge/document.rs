//! The provisional document (spec §9.5): every write applied in replay order, except the removes
//! that are in conflict with an edit, so an edit concurrent with a remove keeps the document
//! visible until someone decides.

use std::collections::BTreeSet;

use super::state::Write;
use super::writes::Slot;
use crate::event::FieldPath;
use crate::value::Value;

/// The document after every write of `slots` (in replay order), skipping the removes of the
/// events whose remove is in conflict (`in_conflict[slot]`).
pub(super) fn provisional(slots: &[Slot], in_conflict: &[bool]) -> Option<Value> {
    assert_eq!(slots.len(), in_conflict.len(), "one flag per write");
    let skipped: BTreeSet<usize> = (0..slots.len())
        .filter(|&index| in_conflict[index] && slots[index].write == Write::Remove)
        .map(|index| slots[index].event)
        .collect();
    let mut value: Option<Value> = None;
    for slot in slots {
        if slot.write == Write::Remove && skipped.contains(&slot.event) {
            continue;
        }
        apply(&mut value, &slot.path, &slot.write);
    }
    value
}

/// Applies one write to a document.
fn apply(document: &mut Option<Value>, path: &FieldPath, write: &Write) {
    let segments = &path.0;
    if segments.is_empty() {
        match write {
            Write::Set(value) => *document = Some(value.clone()),
            Write::Remove => *document = None,
            // Validation forbids an empty patch path.
            Write::Delete => unreachable!("a patch path has at least one segment"),
        }
        return;
    }
    // Updates to a document that does not exist change nothing.
    let Some(root) = document.as_mut() else {
        return;
    };
    let mut node = root;
    for segment in &segments[..segments.len() - 1] {
        if matches!(write, Write::Delete)
            && get_field(node, segment).is_none_or(|child| !matches!(child, Value::Object(_)))
        {
            // Nothing to delete under a missing or non-object field.
            return;
        }
        node = field_entry(node, segment);
    }
    let last = &segments[segments.len() - 1];
    match write {
        Write::Set(value) => *field_entry(node, last) = value.clone(),
        Write::Delete => {
            if let Value::Object(fields) = node {
                if let Ok(position) = fields.binary_search_by(|(key, _)| key.as_str().cmp(last)) {
                    fields.remove(position);
                }
            }
        }
        Write::Remove => unreachable!("a remove writes the root"),
    }
}

fn get_field<'a>(node: &'a Value, segment: &str) -> Option<&'a Value> {
    match node {
        Value::Object(fields) => fields
            .binary_search_by(|(key, _)| key.as_str().cmp(segment))
            .ok()
            .map(|position| &fields[position].1),
        _ => None,
    }
}

/// The field `segment` of `node`, created as an empty object if missing; a non-object `node`
/// becomes an empty object first.
fn field_entry<'a>(node: &'a mut Value, segment: &str) -> &'a mut Value {
    if !matches!(node, Value::Object(_)) {
        *node = Value::Object(Vec::new());
    }
    let Value::Object(fields) = node else {
        unreachable!("made an object above")
    };
    let position = match fields.binary_search_by(|(key, _)| key.as_str().cmp(segment)) {
        Ok(position) => position,
        Err(position) => {
            fields.insert(position, (segment.to_owned(), Value::Object(Vec::new())));
            position
        }
    };
    &mut fields[position].1
}

/// The value at `path` in a document, if present.
pub fn value_at<'a>(document: Option<&'a Value>, path: &FieldPath) -> Option<&'a Value> {
    let mut node = document?;
    for segment in &path.0 {
        node = get_field(node, segment)?;
    }
    Some(node)
}
