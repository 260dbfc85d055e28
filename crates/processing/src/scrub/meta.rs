//! The `_meta` entries scrubbing leaves, in Relay's format: at the scrubbed value's path,
//! `{"": {"rem": [[rule, "s", start, end] | [rule, "x"], …], "len": original_chars}}`.

use crate::json::{Json, Object};

use super::redact::Remark;

/// One step of the path from the event's root to a value.
#[derive(Clone, Copy)]
pub enum Seg<'p> {
    Key(&'p str),
    Index(usize),
}

/// The path to the value being visited, as a list through the walk's stack frames.
#[derive(Clone, Copy)]
pub struct Path<'p> {
    pub parent: Option<&'p Path<'p>>,
    pub seg: Option<Seg<'p>>,
}

impl<'p> Path<'p> {
    pub const ROOT: Path<'static> = Path {
        parent: None,
        seg: None,
    };

    pub fn key(&'p self, key: &'p str) -> Path<'p> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
        }
    }

    pub fn index(&'p self, index: usize) -> Path<'p> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(index)),
        }
    }

    /// The number of segments from the root.
    pub fn depth(&self) -> u16 {
        let mut depth = 0;
        let mut at = Some(self);
        while let Some(p) = at {
            depth += u16::from(p.seg.is_some());
            at = p.parent;
        }
        depth
    }

    fn segments(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            match p.seg {
                Some(Seg::Key(k)) => out.push(k.to_owned()),
                Some(Seg::Index(i)) => out.push(i.to_string()),
                None => {}
            }
            at = p.parent;
        }
        out.reverse();
        out
    }
}

/// The remarks of one value.
pub struct Entry<'r> {
    pub substituted: &'r [Remark],
    pub removed: Option<&'static str>,
    pub len: Option<usize>,
}

/// The `_meta` tree scrubbing builds, merged into the event's at the end.
#[derive(Default)]
pub struct MetaTree {
    root: Object<'static>,
}

impl MetaTree {
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    pub fn record(&mut self, path: &Path<'_>, entry: Entry<'_>) {
        let mut node = &mut self.root;
        for seg in path.segments() {
            node = object_at(node, seg);
        }
        let meta = object_at(node, String::new());
        let rem = match meta.entry("rem").or_insert_with(|| Json::Array(Vec::new())) {
            Json::Array(rem) => rem,
            other => {
                *other = Json::Array(Vec::new());
                match other {
                    Json::Array(rem) => rem,
                    _ => unreachable!("just set"),
                }
            }
        };
        for r in entry.substituted {
            rem.push(Json::Array(vec![
                Json::from(r.rule),
                Json::from("s"),
                Json::from(r.start as u64),
                Json::from(r.end as u64),
            ]));
        }
        if let Some(rule) = entry.removed {
            rem.push(Json::Array(vec![Json::from(rule), Json::from("x")]));
        }
        if let Some(len) = entry.len {
            if !meta.contains_key("len") {
                meta.insert("len", Json::from(len as u64));
            }
        }
    }

    /// Merge into the event's `_meta` (created if missing): remarks append to those already
    /// there, an existing `len` (the length before normalization trimmed it) stays.
    pub fn merge_into(self, event: &mut Object<'_>) {
        let target = event
            .entry("_meta")
            .or_insert_with(|| Json::Object(Object::new()));
        if !target.is_object() {
            *target = Json::Object(Object::new());
        }
        if let Json::Object(target) = target {
            merge(target, self.root);
        }
    }
}

fn object_at<'n>(node: &'n mut Object<'static>, key: String) -> &'n mut Object<'static> {
    let slot = node
        .entry(key)
        .or_insert_with(|| Json::Object(Object::new()));
    if !slot.is_object() {
        *slot = Json::Object(Object::new());
    }
    match slot {
        Json::Object(o) => o,
        _ => unreachable!("just made an object"),
    }
}

fn merge<'a>(target: &mut Object<'a>, source: Object<'static>) {
    for (key, value) in source {
        match (target.get_mut(&key), value) {
            (Some(Json::Object(t)), Json::Object(s)) if key.is_empty() => {
                for (k, v) in s {
                    match (t.get_mut(&k), v) {
                        (Some(Json::Array(existing)), Json::Array(new)) if k == "rem" => {
                            existing.extend(new)
                        }
                        (Some(_), _) if k == "len" => {}
                        (_, v) => {
                            t.insert(k, v);
                        }
                    }
                }
            }
            (Some(Json::Object(t)), Json::Object(s)) => merge(t, s),
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let mut tree = MetaTree::default();
        let root = Path::ROOT;
        let extra = root.key("extra");
        let pw = extra.key("password");
        tree.record(
            &pw,
            Entry {
                substituted: &[Remark {
                    rule: "@password:filter",
                    start: 0,
                    end: 10,
                }],
                removed: None,
                len: Some(7),
            },
        );
        let mut event = Object::new();
        event.insert(
            "_meta",
            Json::from(serde_json::json!({"extra": {"password": {"": {"len": 99}}}, "x": {}})),
        );
        tree.merge_into(&mut event);
        assert_eq!(
            event["_meta"],
            serde_json::json!({"extra": {"password": {"": {"len": 99, "rem": [["@password:filter", "s", 0, 10]]}}}, "x": {}})
        );
    }
}
