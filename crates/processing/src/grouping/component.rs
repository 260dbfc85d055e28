//! The grouping component tree and how it hashes.
//!
//! Sentry builds a tree of *components* for every variant of an event (`app`, `system`,
//! `default`, …). Each component either contributes to the hash or carries a hint saying why
//! not. The hash of a variant is the MD5 of every contributing leaf value, concatenated in tree
//! order with no separator — exactly Sentry's `hash_from_values` over `iter_values()`.

use md5::{Digest, Md5};

/// One node of a grouping tree: an id (`frame`, `module`, `type`, …) with child components or
/// leaf strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Sentry's component id, e.g. `exception`, `stacktrace`, `context-line`.
    pub id: &'static str,
    /// Whether this node's values reach the hash.
    pub contributes: bool,
    /// Why the node does (not) contribute, in Sentry's words; only for humans.
    pub hint: Option<String>,
    /// Children and leaf values, in tree order.
    pub values: Vec<Node>,
}

/// A child of a [`Component`]: another component or a leaf string.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Component(Component),
    Value(String),
}

impl Component {
    /// A component without values: it never contributes (Sentry's empty component).
    pub fn empty(id: &'static str) -> Self {
        Component {
            id,
            contributes: false,
            hint: None,
            values: Vec::new(),
        }
    }

    /// A leaf component holding one string; it contributes when the string is non-empty.
    pub fn leaf(id: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        let contributes = !value.is_empty();
        Component {
            id,
            contributes,
            hint: None,
            values: vec![Node::Value(value)],
        }
    }

    /// A component over children; it contributes when any child does (Sentry's default).
    pub fn parent(id: &'static str, children: Vec<Component>) -> Self {
        let contributes = children.iter().any(|c| c.contributes);
        Component {
            id,
            contributes,
            hint: None,
            values: children.into_iter().map(Node::Component).collect(),
        }
    }

    /// Marks the component non-contributing and records why.
    pub fn ignore(&mut self, hint: impl Into<String>) {
        self.contributes = false;
        self.hint = Some(hint.into());
    }

    /// Sets the hint without changing whether the component contributes.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The direct child components.
    pub fn children(&self) -> impl Iterator<Item = &Component> {
        self.values.iter().filter_map(|n| match n {
            Node::Component(c) => Some(c),
            Node::Value(_) => None,
        })
    }

    /// The direct child components, mutable.
    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut Component> {
        self.values.iter_mut().filter_map(|n| match n {
            Node::Component(c) => Some(c),
            Node::Value(_) => None,
        })
    }

    /// The first leaf string of this component, if any (e.g. a frame's function name).
    pub fn first_value(&self) -> Option<&str> {
        self.values.iter().find_map(|n| match n {
            Node::Value(v) => Some(v.as_str()),
            Node::Component(_) => None,
        })
    }

    /// Replaces the leaf values with one string (keeps `contributes` as it is).
    pub fn set_value(&mut self, value: impl Into<String>) {
        self.values = vec![Node::Value(value.into())];
    }

    /// Every contributing leaf value, in tree order (Sentry's `iter_values`).
    pub fn contributing_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_values(&mut out);
        out
    }

    fn collect_values<'a>(&'a self, out: &mut Vec<&'a str>) {
        if !self.contributes {
            return;
        }
        for node in &self.values {
            match node {
                Node::Value(v) => out.push(v),
                Node::Component(c) => c.collect_values(out),
            }
        }
    }

    /// Calls `each` with every contributing leaf value, in tree order (what
    /// [`Component::contributing_values`] lists, without building the list).
    pub fn for_each_contributing_value<'a>(&'a self, each: &mut impl FnMut(&'a str)) {
        if !self.contributes {
            return;
        }
        for node in &self.values {
            match node {
                Node::Value(v) => each(v),
                Node::Component(c) => c.for_each_contributing_value(each),
            }
        }
    }

    /// The component's hash, or `None` when it does not contribute.
    pub fn hash(&self) -> Option<String> {
        self.contributes.then(|| {
            let mut hasher = Md5::new();
            self.for_each_contributing_value(&mut |v| hasher.update(v.as_bytes()));
            hex::encode(hasher.finalize())
        })
    }

    /// Whether a contributing `stacktrace` component sits anywhere below (or at) this node.
    pub fn has_contributing_stacktrace(&self) -> bool {
        if !self.contributes {
            return false;
        }
        self.id == "stacktrace" || self.children().any(Component::has_contributing_stacktrace)
    }

    /// The tree in the layout of Sentry's snapshots (`id*` = contributes, `(hint)`, quoted
    /// leaf values), for debugging and for comparing with `conformance/grouping/trees/`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(self.id);
        if self.contributes {
            out.push('*');
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!(" ({hint})"));
        }
        out.push('\n');
        for node in &self.values {
            match node {
                Node::Component(c) => c.render_into(out, depth + 1),
                Node::Value(v) => {
                    out.push_str(&"  ".repeat(depth + 1));
                    out.push_str(&crate::json::Json::from(v.as_str()).to_string());
                    out.push('\n');
                }
            }
        }
    }
}

/// MD5 of the values' UTF-8 bytes concatenated without separator, as lowercase hex.
pub fn hash_values<I, S>(values: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut hasher = Md5::new();
    for value in values {
        hasher.update(value.as_ref().as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_nothing_is_md5_of_empty_string() {
        assert_eq!(
            hash_values(Vec::<&str>::new()),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn non_contributing_children_are_skipped() {
        let mut value = Component::leaf("value", "hello world");
        value.ignore("ignored because stacktrace takes precedence");
        let tree = Component::parent(
            "exception",
            vec![Component::leaf("type", "ValueError"), value],
        );
        assert_eq!(tree.contributing_values(), vec!["ValueError"]);
        assert_eq!(tree.hash(), Some(hash_values(["ValueError"])));
    }

    #[test]
    fn empty_leaf_does_not_contribute() {
        assert!(!Component::leaf("function", "").contributes);
        assert!(!Component::parent("frame", vec![Component::empty("module")]).contributes);
    }
}
