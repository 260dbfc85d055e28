//! Redacting one string the way Relay does: the string is a list of chunks (text, or an earlier
//! redaction with its rule id); a regex runs over the text with every redaction standing in as
//! a NUL, and its matches (or the whole value) become new redactions. The result is the joined
//! string and one `_meta` remark per redaction, with its byte range in the result.

use std::borrow::Cow;

use regex::Regex;

use super::rules::{Profile, Replace, ValueRule};

/// How a redaction changed its part of the string, as `_meta` remarks say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemarkType {
    /// `s`: replaced by a text.
    Substituted,
    /// `x`: removed.
    Removed,
    /// `m`: masked with `*`.
    Masked,
    /// `p`: replaced by a hash.
    Pseudonymized,
}

impl RemarkType {
    pub fn code(self) -> &'static str {
        match self {
            RemarkType::Substituted => "s",
            RemarkType::Removed => "x",
            RemarkType::Masked => "m",
            RemarkType::Pseudonymized => "p",
        }
    }

    pub fn from_code(code: &str) -> Option<RemarkType> {
        Some(match code {
            "s" => RemarkType::Substituted,
            "x" => RemarkType::Removed,
            "m" => RemarkType::Masked,
            "p" => RemarkType::Pseudonymized,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Chunk<'s> {
    Text(Cow<'s, str>),
    Redaction {
        text: Cow<'static, str>,
        rule: Cow<'static, str>,
        ty: RemarkType,
    },
}

/// A remark with a range: rule id, how, and byte range in the scrubbed string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark {
    pub rule: Cow<'static, str>,
    pub ty: RemarkType,
    pub start: usize,
    pub end: usize,
}

/// What one match becomes: its replacement text and remark, or nothing at all (a redaction
/// method Relay does not know drops the match unmarked).
pub type Replacement = Option<(Cow<'static, str>, RemarkType)>;

/// A string some rule rewrote: the new text, its remarks, the original's length in chars.
pub struct Redacted {
    pub text: String,
    pub remarks: Vec<Remark>,
    pub original_len: usize,
}

/// One string under redaction. Untouched (and unallocated) until a rule matches.
pub struct Redactor<'s> {
    original: &'s str,
    /// The chunks once a rule matched or earlier redactions were read (None: the original
    /// as one text).
    chunks: Option<Vec<Chunk<'s>>>,
    changed: bool,
    /// The original's prefilter profile, taken when first needed.
    profile: Option<Profile>,
}

impl<'s> Redactor<'s> {
    pub fn new(original: &'s str) -> Self {
        Redactor {
            original,
            chunks: None,
            changed: false,
            profile: None,
        }
    }

    /// A string an earlier scrubbing pass already redacted: its remarks with ranges become
    /// redactions again, which later rules see as NULs (Relay's `split_chunks`).
    pub fn with_remarks(original: &'s str, remarks: &[Remark]) -> Self {
        let mut r = Redactor::new(original);
        if remarks.is_empty() {
            return r;
        }
        let mut chunks = Vec::new();
        let mut pos = 0;
        for remark in remarks {
            if remark.start > pos {
                match original.get(pos..remark.start) {
                    Some(t) => chunks.push(Chunk::Text(Cow::Borrowed(t))),
                    None => break,
                }
            }
            match original.get(remark.start..remark.end) {
                Some(t) => chunks.push(Chunk::Redaction {
                    text: Cow::Owned(t.to_owned()),
                    rule: remark.rule.clone(),
                    ty: remark.ty,
                }),
                None => break,
            }
            pos = remark.end;
        }
        if let Some(t) = original.get(pos..).filter(|t| !t.is_empty()) {
            chunks.push(Chunk::Text(Cow::Borrowed(t)));
        }
        r.chunks = Some(chunks);
        r
    }

    /// Whether any rule changed the string.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The current text when it is the original without redactions: the fast path for
    /// prefilters.
    fn untouched(&self) -> Option<&'s str> {
        self.chunks.is_none().then_some(self.original)
    }

    /// The original's prefilter profile.
    pub fn profile(&mut self) -> Profile {
        let original = self.original;
        *self.profile.get_or_insert_with(|| Profile::of(original))
    }

    /// Apply value rules in order, each after its prefilter (on the original text; once it
    /// changed, every rule runs).
    pub fn apply_all(&mut self, rules: &[ValueRule]) {
        if self.untouched().is_some() && self.profile().inert() {
            return;
        }
        for rule in rules {
            if let Some(text) = self.untouched() {
                let profile = self.profile();
                if !(rule.may_match)(&profile, text) {
                    continue;
                }
            }
            self.apply_regex(rule.id, rule.regex, rule.replace, rule.text);
        }
    }

    /// Replace the whole value with `text` (a rule that matched on the key, or on the value
    /// with whole-value replacement), unless the value is all redactions already.
    pub fn replace_value(&mut self, rule: &'static str, text: &'static str) {
        self.replace_whole(Cow::Borrowed(rule), |_| {
            Some((Cow::Borrowed(text), RemarkType::Substituted))
        });
    }

    /// Replace the whole value (earlier redactions included) with what `replacement` makes of
    /// the current text (redactions as NULs), unless the value is all redactions already.
    pub fn replace_whole(
        &mut self,
        rule: Cow<'static, str>,
        replacement: impl Fn(&str) -> Replacement,
    ) {
        let Some(search) = self.search() else { return };
        let chunks = match replacement(&search) {
            Some((text, ty)) => vec![Chunk::Redaction { text, rule, ty }],
            None => Vec::new(),
        };
        self.commit(chunks);
    }

    /// [`Self::replace_whole`] if `pred` holds for the text (earlier redactions as NULs).
    pub fn replace_whole_if(
        &mut self,
        rule: Cow<'static, str>,
        pred: impl Fn(&str) -> bool,
        replacement: impl Fn(&str) -> Replacement,
    ) {
        let Some(search) = self.search() else { return };
        if pred(&search) {
            self.replace_whole(rule, replacement);
        }
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
        self.apply_groups(
            Cow::Borrowed(rule),
            regex,
            |g| g == group,
            |_| Some((Cow::Borrowed(text), RemarkType::Substituted)),
        );
    }

    /// Apply `regex`: the groups `wanted` picks of every match (in group order) become what
    /// `replacement` makes of their text, under `rule`.
    pub fn apply_groups(
        &mut self,
        rule: Cow<'static, str>,
        regex: &Regex,
        wanted: impl Fn(usize) -> bool,
        replacement: impl Fn(&str) -> Replacement,
    ) {
        let Some(search) = self.search() else { return };
        if !regex.is_match(&search) {
            return;
        }
        let mut ranges = Vec::new();
        for caps in regex.captures_iter(&search) {
            for (i, g) in caps.iter().enumerate() {
                if let Some(g) = g.filter(|_| wanted(i)) {
                    ranges.push((g.start(), g.end()));
                }
            }
        }
        self.redact(&search, &ranges, |text| {
            replacement(text).map(|(t, ty)| Chunk::Redaction {
                text: t,
                rule: rule.clone(),
                ty,
            })
        });
    }

    /// Redact the byte ranges `find` returns (in order) of the text, in which every earlier
    /// redaction stands as a NUL, with `text` under `rule`.
    pub fn apply_ranges(
        &mut self,
        rule: Cow<'static, str>,
        replacement: impl Fn(&str) -> Replacement,
        find: impl Fn(&str) -> Vec<(usize, usize)>,
    ) {
        let Some(search) = self.search() else { return };
        let ranges = find(&search);
        self.redact(&search, &ranges, |text| {
            replacement(text).map(|(t, ty)| Chunk::Redaction {
                text: t,
                rule: rule.clone(),
                ty,
            })
        });
    }

    /// The text the rules search: the original while untouched, else the text chunks with a
    /// NUL for each redaction (NULs of the text itself dropped, as Relay does). None when it is
    /// all redactions.
    fn search(&self) -> Option<Cow<'s, str>> {
        let Some(chunks) = &self.chunks else {
            if !self.original.contains('\0') {
                return Some(Cow::Borrowed(self.original));
            }
            return Some(Cow::Owned(self.original.replace('\0', "")));
        };
        let mut has_text = false;
        let mut s = String::new();
        for chunk in chunks {
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
        redaction: impl Fn(&str) -> Option<Chunk<'s>>,
    ) {
        if ranges.is_empty() {
            return;
        }
        // The earlier redactions, to put back where their NULs are.
        let mut earlier: Vec<Chunk<'s>> = self
            .chunks
            .iter()
            .flatten()
            .filter(|c| matches!(c, Chunk::Redaction { .. }))
            .cloned()
            .collect();
        earlier.reverse();
        let mut out = Vec::new();
        let mut pos = 0;
        for &(start, end) in ranges {
            if start >= pos {
                push_text(&search[pos..start], &mut out, &mut earlier);
                out.extend(redaction(&search[start..end]));
                pos = end;
            }
        }
        push_text(&search[pos..], &mut out, &mut earlier);
        self.commit(out);
    }

    fn current_chunks(&self) -> Cow<'_, [Chunk<'s>]> {
        match &self.chunks {
            Some(chunks) => Cow::Borrowed(chunks),
            None => Cow::Owned(vec![Chunk::Text(Cow::Borrowed(self.original))]),
        }
    }

    /// Keep `chunks` if they change the string: Relay rebuilds its chunks from the string and
    /// its remarks each time, so an application that leaves the string as it was leaves no
    /// trace.
    fn commit(&mut self, mut chunks: Vec<Chunk<'s>>) {
        chunks.retain(|c| !matches!(c, Chunk::Text(t) if t.is_empty()));
        if join(&chunks).0 == join(&self.current_chunks()).0 {
            return;
        }
        self.chunks = Some(chunks);
        self.changed = true;
    }

    /// The scrubbed string and its remarks (only meaningful when [`Self::changed`]).
    pub fn finish(&self) -> (String, Vec<Remark>) {
        join(&self.current_chunks())
    }

    /// The rewritten string, detached from the original, if any rule changed it.
    #[inline]
    pub fn redacted(&self) -> Option<Redacted> {
        self.changed.then(|| {
            let (text, remarks) = self.finish();
            Redacted {
                text,
                remarks,
                original_len: self.original_len(),
            }
        })
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
            Chunk::Redaction { text, rule, ty } => {
                let start = s.len();
                s.push_str(text);
                remarks.push(Remark {
                    rule: rule.clone(),
                    ty: *ty,
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
        r.apply_all(&rules::COMMON_BEFORE_IP);
        r.apply_all(&rules::COMMON_AFTER_PASSWORD);
        assert!(!r.changed());
    }

    #[test]
    fn match_then_whole_value() {
        let mut r = Redactor::new("password: 4111111111111111");
        r.apply_all(&rules::COMMON_BEFORE_IP[1..2]);
        let (s, rem) = r.finish();
        assert_eq!(s, "password: [Filtered]");
        assert_eq!(
            rem,
            vec![Remark {
                rule: "@creditcard:filter".into(),
                ty: RemarkType::Substituted,
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
                rule: "@password:filter".into(),
                ty: RemarkType::Substituted,
                start: 0,
                end: 10
            }]
        );
        assert_eq!(r.original_len(), 26);
    }

    #[test]
    fn byte_ranges_after_earlier_redactions() {
        let mut r = Redactor::new("éé 4111111111111111 é 123-45-6789");
        r.apply_all(&rules::COMMON_BEFORE_IP[1..2]);
        r.apply_all(&rules::COMMON_AFTER_PASSWORD[2..]);
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
