//! Redacting one string the way Relay does: the string is a list of chunks (text, or an earlier
//! redaction with its rule id); a regex runs over the text with every redaction standing in as
//! a NUL, and its matches (or the whole value) become new redactions. The result is the joined
//! string and one `_meta` remark per redaction, with its byte range in the result.

use std::borrow::Cow;

use regex::Regex;

use super::rules::{Profile, Replace, ValueRule};

#[derive(Clone, Debug, PartialEq)]
enum Chunk<'s> {
    Text(Cow<'s, str>),
    Redaction {
        text: &'static str,
        rule: &'static str,
    },
}

/// A `s` (substituted) remark: rule id and byte range in the scrubbed string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark {
    pub rule: &'static str,
    pub start: usize,
    pub end: usize,
}

/// One string under redaction. Untouched (and unallocated) until a rule matches.
pub struct Redactor<'s> {
    original: &'s str,
    chunks: Vec<Chunk<'s>>,
    changed: bool,
    /// The original's prefilter profile, taken when first needed.
    profile: Option<Profile>,
}

impl<'s> Redactor<'s> {
    pub fn new(original: &'s str) -> Self {
        Redactor {
            original,
            chunks: Vec::new(),
            changed: false,
            profile: None,
        }
    }

    /// Whether any rule changed the string.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The current text when no rule changed anything yet: the fast path for prefilters.
    fn untouched(&self) -> Option<&'s str> {
        (!self.changed).then_some(self.original)
    }

    /// The original's prefilter profile.
    pub fn profile(&mut self) -> Profile {
        let original = self.original;
        *self.profile.get_or_insert_with(|| Profile::of(original))
    }

    /// Apply a value rule (its prefilter first).
    pub fn apply(&mut self, rule: &ValueRule) {
        if let Some(text) = self.untouched() {
            let profile = self.profile();
            if !(rule.may_match)(&profile, text) {
                return;
            }
        }
        self.apply_regex(rule.id, rule.regex, rule.replace, rule.text);
    }

    /// Replace the whole value with `text` (a rule that matched on the key, or on the value
    /// with whole-value replacement), unless the value is all redactions already.
    pub fn replace_value(&mut self, rule: &'static str, text: &'static str) {
        if !self.changed && self.original == text {
            return;
        }
        let chunks = self.current_chunks();
        if !chunks.iter().any(|c| matches!(c, Chunk::Text(_))) {
            return;
        }
        self.commit(vec![Chunk::Redaction { text, rule }]);
    }

    /// Replace the whole value if `pred` holds for its text (earlier redactions as NULs).
    pub fn replace_value_if(
        &mut self,
        rule: &'static str,
        text: &'static str,
        pred: impl Fn(&str) -> bool,
    ) {
        let Some(search) = self.search() else { return };
        if pred(&search) {
            self.replace_value(rule, text);
        }
    }

    /// Apply `regex` with `replace` behaviour; a match redacts with `text` under `rule`.
    pub fn apply_regex(
        &mut self,
        rule: &'static str,
        regex: &Regex,
        replace: Replace,
        text: &'static str,
    ) {
        let Replace::Group(group) = replace;
        let Some(search) = self.search() else { return };
        if !regex.is_match(&search) {
            return;
        }
        let ranges: Vec<(usize, usize)> = regex
            .captures_iter(&search)
            .filter_map(|caps| caps.get(group))
            .map(|g| (g.start(), g.end()))
            .collect();
        self.redact(&search, &ranges, rule, text);
    }

    /// Redact the byte ranges `find` returns (in order) of the text, in which every earlier
    /// redaction stands as a NUL, with `text` under `rule`.
    pub fn apply_ranges(
        &mut self,
        rule: &'static str,
        text: &'static str,
        find: impl Fn(&str) -> Vec<(usize, usize)>,
    ) {
        let Some(search) = self.search() else { return };
        let ranges = find(&search);
        self.redact(&search, &ranges, rule, text);
    }

    /// The text the rules search: the original while untouched, else the text chunks with a
    /// NUL for each redaction (NULs of the text itself dropped, as Relay does). None when it is
    /// all redactions.
    fn search(&self) -> Option<Cow<'s, str>> {
        if !self.changed {
            if !self.original.contains('\0') {
                return Some(Cow::Borrowed(self.original));
            }
            return Some(Cow::Owned(self.original.replace('\0', "")));
        }
        let mut has_text = false;
        let mut s = String::new();
        for chunk in &self.chunks {
            match chunk {
                Chunk::Text(t) => {
                    has_text = true;
                    s.extend(t.chars().filter(|&c| c != '\0'));
                }
                Chunk::Redaction { .. } => s.push('\0'),
            }
        }
        has_text.then_some(Cow::Owned(s))
    }

    fn redact(
        &mut self,
        search: &str,
        ranges: &[(usize, usize)],
        rule: &'static str,
        text: &'static str,
    ) {
        if ranges.is_empty() {
            return;
        }
        // The earlier redactions, to put back where their NULs are.
        let mut earlier: Vec<Chunk<'s>> = self
            .chunks
            .iter()
            .filter(|c| self.changed && matches!(c, Chunk::Redaction { .. }))
            .cloned()
            .collect();
        earlier.reverse();
        let mut out = Vec::new();
        let mut pos = 0;
        for &(start, end) in ranges {
            if start >= pos {
                push_text(&search[pos..start], &mut out, &mut earlier);
                out.push(Chunk::Redaction { text, rule });
                pos = end;
            }
        }
        push_text(&search[pos..], &mut out, &mut earlier);
        self.commit(out);
    }

    fn current_chunks(&self) -> Vec<Chunk<'s>> {
        if self.changed {
            self.chunks.clone()
        } else {
            vec![Chunk::Text(Cow::Borrowed(self.original))]
        }
    }

    /// Keep `chunks` if they change the string: Relay rebuilds its chunks from the string and
    /// its remarks each time, so an application that leaves the string as it was leaves no
    /// trace.
    fn commit(&mut self, mut chunks: Vec<Chunk<'s>>) {
        chunks.retain(|c| !matches!(c, Chunk::Text(t) if t.is_empty()));
        let before = self.current_chunks();
        if join(&chunks).0 == join(&before).0 {
            return;
        }
        self.chunks = chunks;
        self.changed = true;
    }

    /// The scrubbed string and its remarks (only meaningful when [`Self::changed`]).
    pub fn finish(&self) -> (String, Vec<Remark>) {
        join(&self.chunks)
    }

    /// The original length in characters, as `_meta`'s `len`.
    pub fn original_len(&self) -> usize {
        self.original.chars().count()
    }
}

/// Text between matches: literal text, with the earlier redactions back in place of NULs.
fn push_text<'s>(text: &str, out: &mut Vec<Chunk<'s>>, earlier: &mut Vec<Chunk<'s>>) {
    if text.is_empty() {
        return;
    }
    let mut rest = text;
    while let Some(i) = rest.find('\0') {
        out.push(Chunk::Text(Cow::Owned(rest[..i].to_owned())));
        if let Some(r) = earlier.pop() {
            out.push(r);
        }
        rest = &rest[i + 1..];
    }
    out.push(Chunk::Text(Cow::Owned(rest.to_owned())));
}

fn join(chunks: &[Chunk<'_>]) -> (String, Vec<Remark>) {
    let mut s = String::new();
    let mut remarks = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Text(t) => s.push_str(t),
            Chunk::Redaction { text, rule } => {
                let start = s.len();
                s.push_str(text);
                remarks.push(Remark {
                    rule,
                    start,
                    end: s.len(),
                });
            }
        }
    }
    (s, remarks)
}

#[cfg(test)]
mod tests {
    use super::super::rules::{self, FILTERED};
    use super::*;

    #[test]
    fn untouched_string_is_not_changed() {
        let mut r = Redactor::new("nothing here");
        for rule in rules::COMMON_BEFORE_IP
            .iter()
            .chain(&rules::COMMON_AFTER_PASSWORD)
        {
            r.apply(rule);
        }
        assert!(!r.changed());
    }

    #[test]
    fn match_then_whole_value() {
        let mut r = Redactor::new("password: 4111111111111111");
        r.apply(&rules::COMMON_BEFORE_IP[1]);
        let (s, rem) = r.finish();
        assert_eq!(s, "password: [Filtered]");
        assert_eq!(
            rem,
            vec![Remark {
                rule: "@creditcard:filter",
                start: 10,
                end: 20
            }]
        );
        r.replace_value_if(rules::PASSWORD_ID, FILTERED, |t| {
            rules::PASSWORD.is_match(t)
        });
        let (s, rem) = r.finish();
        assert_eq!(s, "[Filtered]");
        assert_eq!(
            rem,
            vec![Remark {
                rule: "@password:filter",
                start: 0,
                end: 10
            }]
        );
        assert_eq!(r.original_len(), 26);
    }

    #[test]
    fn byte_ranges_after_earlier_redactions() {
        let mut r = Redactor::new("éé 4111111111111111 é 123-45-6789");
        r.apply(&rules::COMMON_BEFORE_IP[1]);
        r.apply(&rules::COMMON_AFTER_PASSWORD[2]);
        let (s, rem) = r.finish();
        assert_eq!(s, "éé [Filtered] é [Filtered]");
        assert_eq!((rem[0].start, rem[1].start, rem[1].end), (5, 19, 29));
        assert_eq!(r.original_len(), 33);
    }

    #[test]
    fn replacing_with_same_text_is_no_change() {
        let mut r = Redactor::new("[Filtered]");
        r.replace_value(rules::PASSWORD_ID, FILTERED);
        assert!(!r.changed());
    }
}
