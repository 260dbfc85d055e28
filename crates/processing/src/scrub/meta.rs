//! The `_meta` entries scrubbing leaves, in Relay's format: at the scrubbed value's path,
//! `{"": {"rem": [[rule, "s", start, end] | [rule, "x"], …], "len": original_chars}}`.

use std::borrow::Cow;

use crate::json::{Json, Object};

use super::redact::{Redacted, Remark, RemarkType};

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
    /// For the value of a `[key, value]` pair (`seg` is its index 1): the key, which stands
    /// for the pair in selector paths (`headers.Authorization`, not `headers.0.1`).
    pub pair_key: Option<&'p str>,
}

impl<'p> Path<'p> {
    pub const ROOT: Path<'static> = Path {
        parent: None,
        seg: None,
        pair_key: None,
    };

    pub fn key(&'p self, key: &'p str) -> Path<'p> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
            pair_key: None,
        }
    }

    pub fn index(&'p self, index: usize) -> Path<'p> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(index)),
            pair_key: None,
        }
    }

    /// The value of a pair with key `key` (this path is the pair's).
    pub fn pair_value(&'p self, key: &'p str) -> Path<'p> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(1)),
            pair_key: Some(key),
        }
    }

    /// Whether the selector path ends with `keys` (keys case-insensitively; a number is an
    /// index).
    pub fn ends_with(&self, keys: &[impl AsRef<str>]) -> bool {
        let mut at = Some(self);
        for want in keys.iter().rev() {
            let want = want.as_ref();
            let Some(p) = at else { return false };
            // A number in a selector is an index: it matches array positions, never keys.
            let matched = match (want.parse::<usize>(), p.pair_key, p.seg) {
                (Ok(_), Some(_), _) | (Ok(_), None, Some(Seg::Key(_))) => false,
                (Ok(want), None, Some(Seg::Index(i))) => want == i,
                (Err(_), Some(k), _) | (Err(_), None, Some(Seg::Key(k))) => {
                    k.eq_ignore_ascii_case(want)
                }
                (Err(_), None, Some(Seg::Index(_))) | (_, None, None) => false,
            };
            if !matched {
                return false;
            }
            // A pair's value stands for the pair: skip the pair's index.
            at = if p.pair_key.is_some() {
                p.parent.and_then(|pair| pair.parent)
            } else {
                p.parent
            };
        }
        true
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
    /// The redactions of a rewritten string (none if the string was not rewritten).
    pub substituted: &'r [Remark],
    /// Whether the string was rewritten: Relay then replaces the value's remarks with those of
    /// its redactions.
    pub rewritten: bool,
    /// The rule that removed the value, if any (a `x` remark, appended).
    pub removed: Option<Cow<'static, str>>,
    /// The original length in characters, kept if the value already has one.
    pub len: Option<usize>,
}

/// The event's `_meta` while scrubbing adds to it: taken out of the event before the walk and
/// put back after, so that the walk can borrow the rest of the event.
#[derive(Default)]
pub struct MetaTree<'a> {
    root: Object<'a>,
    /// The event had a `_meta` object, which `root` is.
    taken: bool,
    changed: bool,
}

impl<'a> MetaTree<'a> {
    /// Take the event's `_meta` (if it is an object) to add to.
    pub fn take_from(event: &mut Object<'a>) -> Self {
        match event.get_mut("_meta") {
            Some(Json::Object(root)) => MetaTree {
                root: std::mem::take(root),
                taken: true,
                changed: false,
            },
            _ => MetaTree::default(),
        }
    }

    /// A removed number, array or object (or an IP moved away): one `x` remark naming `rule`.
    pub fn record_removed(&mut self, path: &Path<'_>, rule: Cow<'static, str>) {
        self.record(
            path,
            Entry {
                substituted: &[],
                rewritten: false,
                removed: Some(rule),
                len: None,
            },
        );
    }

    /// A scrubbed string's outcome, from whichever pass: its remarks at `path` and its new
    /// value (null when a rule `removed` it). Nothing when no rule changed it.
    #[inline]
    pub fn write_string(
        &mut self,
        path: &Path<'_>,
        value: &mut Json<'_>,
        redacted: Option<Redacted>,
        removed: Option<Cow<'static, str>>,
    ) {
        if redacted.is_none() && removed.is_none() {
            return;
        }
        let (text, remarks, len) = match redacted {
            Some(r) => (r.text, r.remarks, Some(r.original_len)),
            None => (String::new(), Vec::new(), None),
        };
        let gone = removed.is_some();
        self.record(
            path,
            Entry {
                substituted: &remarks,
                rewritten: len.is_some(),
                removed,
                len,
            },
        );
        *value = if gone {
            Json::Null
        } else {
            Json::String(Cow::Owned(text))
        };
    }

    pub fn record(&mut self, path: &Path<'_>, entry: Entry<'_>) {
        self.changed = true;
        let mut node = &mut self.root;
        for seg in path.segments() {
            node = object_at(node, seg);
        }
        let meta = object_at(node, String::new());
        let rem = meta.entry("rem").or_insert_with(|| Json::Array(Vec::new()));
        if entry.rewritten || !rem.is_array() {
            *rem = Json::Array(Vec::new());
        }
        if let Json::Array(rem) = rem {
            for r in entry.substituted {
                rem.push(Json::Array(vec![
                    rule_json(r.rule.clone()),
                    Json::from(r.ty.code()),
                    Json::from(r.start as u64),
                    Json::from(r.end as u64),
                ]));
            }
            if let Some(rule) = &entry.removed {
                rem.push(Json::Array(vec![rule_json(rule.clone()), Json::from("x")]));
            }
        }
        if let Some(len) = entry.len {
            if !meta.contains_key("len") {
                meta.insert("len", Json::from(len as u64));
            }
        }
    }

    /// Whether there are no remarks (nor anything else) at all.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Move the entry at `from` (a sibling's) to `to`, as Relay moves a value with its meta.
    pub fn rename(&mut self, from: &Path<'_>, to: &Path<'_>) {
        let mut from_segs = from.segments();
        let Some(from_key) = from_segs.pop() else {
            return;
        };
        let mut node = &mut self.root;
        for seg in from_segs {
            match node.get_mut(seg.as_str()) {
                Some(Json::Object(o)) => node = o,
                _ => return,
            }
        }
        let Some(entry) = node.remove(from_key.as_str()) else {
            return;
        };
        self.changed = true;
        let mut node = &mut self.root;
        for seg in to.segments() {
            node = object_at(node, seg);
        }
        *node = match entry {
            Json::Object(o) => o,
            _ => Object::new(),
        };
    }

    /// Whether anything was recorded.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The remarks with ranges at `path` (those an earlier pass left on a rewritten string).
    pub fn remarks_at(&self, path: &Path<'_>) -> Vec<Remark> {
        let mut node = &self.root;
        for seg in path.segments() {
            match node.get(seg.as_str()) {
                Some(Json::Object(o)) => node = o,
                _ => return Vec::new(),
            }
        }
        let Some(Json::Array(rem)) = node.get("").and_then(|m| m.get("rem")) else {
            return Vec::new();
        };
        rem.iter()
            .filter_map(|r| match r.as_array()?.as_slice() {
                [Json::String(rule), Json::String(ty), start, end] => Some(Remark {
                    rule: Cow::Owned(rule.to_string()),
                    ty: RemarkType::from_code(ty)?,
                    start: usize::try_from(start.as_u64()?).ok()?,
                    end: usize::try_from(end.as_u64()?).ok()?,
                }),
                _ => None,
            })
            .collect()
    }

    /// Put `_meta` back into the event (where it was, or last) if it was there or has
    /// remarks now.
    pub fn put_back(self, event: &mut Object<'a>) {
        if self.taken || self.changed {
            event.insert("_meta", Json::Object(self.root));
        }
    }
}

fn rule_json(rule: Cow<'static, str>) -> Json<'static> {
    Json::String(rule)
}

fn object_at<'n, 'a>(node: &'n mut Object<'a>, key: String) -> &'n mut Object<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_paths_end_with() {
        let root = Path::ROOT;
        let request = root.key("request");
        let headers = request.key("headers");
        let pair = headers.index(3);
        let value = pair.pair_value("X-Token");
        assert!(value.ends_with(&["headers", "x-token"]));
        assert!(value.ends_with(&["Request", "headers", "X-Token"]));
        assert!(!value.ends_with(&["3", "X-Token"]));
        let extra = root.key("extra");
        let zero = extra.key("0");
        assert!(!zero.ends_with(&["extra", "0"]));
        let list = extra.key("list");
        let item = list.index(2);
        assert!(item.ends_with(&["list", "2"]));
        assert!(!item.ends_with(&["event", "extra", "list", "2"]));
    }

    #[test]
    fn records_into_the_events_meta() {
        let mut event = Object::new();
        event.insert(
            "_meta",
            Json::from(serde_json::json!({
                "extra": {"password": {"": {"len": 99, "rem": [["!limit", "x"]]}}},
                "x": {"": {"err": ["e"]}}
            })),
        );
        event.insert("extra", Json::Null);
        let mut tree = MetaTree::take_from(&mut event);
        let root = Path::ROOT;
        let extra = root.key("extra");
        tree.record(
            &extra.key("password"),
            Entry {
                substituted: &[Remark {
                    rule: "@password:filter".into(),
                    ty: RemarkType::Substituted,
                    start: 0,
                    end: 10,
                }],
                rewritten: true,
                removed: None,
                len: Some(7),
            },
        );
        tree.record(
            &extra.key("secret"),
            Entry {
                substituted: &[],
                rewritten: false,
                removed: Some("@password:filter".into()),
                len: None,
            },
        );
        tree.put_back(&mut event);
        assert_eq!(event.keys().collect::<Vec<_>>(), ["_meta", "extra"]);
        assert_eq!(
            event["_meta"],
            serde_json::json!({
                "extra": {
                    "password": {"": {"len": 99, "rem": [["@password:filter", "s", 0, 10]]}},
                    "secret": {"": {"rem": [["@password:filter", "x"]]}}
                },
                "x": {"": {"err": ["e"]}}
            })
        );
    }

    #[test]
    fn no_meta_when_nothing_was_scrubbed() {
        let mut event = Object::new();
        event.insert("extra", Json::Null);
        let tree = MetaTree::take_from(&mut event);
        tree.put_back(&mut event);
        assert!(!event.contains_key("_meta"));
    }
}
