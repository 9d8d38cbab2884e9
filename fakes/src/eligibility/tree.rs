//! A small element tree read with quick-xml, and a streaming writer of the same shape.
//!
//! XmlMsg files are small, element-only documents (no attributes carry data, no mixed
//! content), so a tree of `name + text + children` is all the vocabulary needs. Reading
//! into a tree first keeps the field extraction in `xml` simple and lets every
//! structural problem surface as one typed error. Limits on depth and element count
//! keep a hostile file from costing more than its size.
//!
//! Both directions are on the eligibility API's hot path (one parse and one render per
//! confirmation), so the tree is one flat vector of nodes borrowing names and text
//! from the decoded document ([`Document`]), and responses are written straight out
//! in their encoding by [`Writer`] rather than built as a tree first
//! (`benches/benches/eligibility.rs` measures both). Plain single inquiries skip the
//! tree altogether (`super::single`); [`Fields`] is what both readers hand to the
//! field rules of `xml`.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::encoding::CharacterCode;
use super::error::{EligibilityError, ErrorCode};
use crate::codes::push_digits;

/// Limits of the tree reader. *(our choice)* generous for real messages: a bulk
/// upload of 10,000 inquiries has about 80,000 elements at depth 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits {
            max_depth: 16,
            max_elements: 200_000,
        }
    }
}

/// A parsed document: its elements in document order, linked parent → first child →
/// next sibling. One flat vector rather than a tree of vectors: parsing then costs one
/// growing allocation instead of one per element with children, and nothing is moved
/// when an element closes. Names and text borrow from the document text wherever
/// they can.
#[derive(Clone, PartialEq, Eq)]
pub struct Document<'a> {
    nodes: Vec<Node<'a>>,
}

#[derive(Clone, PartialEq, Eq, Default)]
struct Node<'a> {
    name: Cow<'a, str>,
    /// Text (concatenated, trimmed).
    text: Cow<'a, str>,
    /// Index of the first child, 0 for none (the root is never a child).
    first_child: u32,
    /// Index of the next sibling, 0 for none.
    next_sibling: u32,
}

impl<'a> Document<'a> {
    /// The root element.
    pub fn root(&self) -> Element<'_, 'a> {
        Element { doc: self, at: 0 }
    }
}

/// One element of a [`Document`]: its local name, its text and its children.
#[derive(Clone, Copy)]
pub struct Element<'d, 'a> {
    doc: &'d Document<'a>,
    at: u32,
}

// Redacted: element text may be a patient's name.
impl std::fmt::Debug for Element<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.name())
            .field("text_len", &self.text().len())
            .field("children", &self.children().collect::<Vec<_>>())
            .finish()
    }
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.root().fmt(f)
    }
}

impl<'d, 'a> Element<'d, 'a> {
    fn node(&self) -> &'d Node<'a> {
        &self.doc.nodes[self.at as usize]
    }

    pub fn name(&self) -> &'d str {
        &self.node().name
    }

    /// The element's own text, trimmed (empty for an element with only children).
    pub fn text(&self) -> &'d str {
        &self.node().text
    }

    /// Child elements in document order.
    pub fn children(&self) -> impl Iterator<Item = Element<'d, 'a>> + 'd {
        let doc = self.doc;
        let mut next = self.node().first_child;
        std::iter::from_fn(move || {
            if next == 0 {
                return None;
            }
            let e = Element { doc, at: next };
            next = e.node().next_sibling;
            Some(e)
        })
    }

    /// Children with this name.
    pub fn all<'s>(&self, name: &'s str) -> impl Iterator<Item = Element<'d, 'a>> + 's
    where
        'd: 's,
    {
        self.children().filter(move |c| c.name() == name)
    }

    /// The only child with this name; `DuplicateField` if there are several.
    pub fn child(&self, name: &str) -> Result<Option<Element<'d, 'a>>, EligibilityError> {
        let mut it = self.children().filter(|c| c.name() == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(EligibilityError::new(
                ErrorCode::DuplicateField,
                format!("{}/{name}", self.name()),
            ));
        }
        Ok(first)
    }

    /// The only child with this name, required.
    pub fn req_child(&self, name: &str) -> Result<Element<'d, 'a>, EligibilityError> {
        self.child(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name()))
        })
    }

    /// Text of an optional child; an empty element counts as absent.
    pub fn opt_text(&self, name: &str) -> Result<Option<&'d str>, EligibilityError> {
        Ok(self
            .child(name)?
            .map(|e| e.text())
            .filter(|t| !t.is_empty()))
    }

    /// Text of a required child; empty counts as missing.
    pub fn req_text(&self, name: &str) -> Result<&'d str, EligibilityError> {
        self.opt_text(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name()))
        })
    }
}

/// The texts of some leaf children of one element, found in one pass over its
/// children: what a reader of a message part asks for, field by field, without
/// scanning the children once per field. Answers exactly as the same calls on the
/// [`Element`] would, errors included (a repeated field is reported when it is asked
/// for). Also filled by the single-inquiry fast path (`super::single`), so both
/// readers share one set of field rules.
pub struct Fields<'d, const N: usize> {
    /// The element's name (for error details).
    parent: &'d str,
    names: [&'static str; N],
    found: [Found<'d>; N],
}

/// What was found for one field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found<'d> {
    None,
    /// One child, with its (trimmed) text.
    One(&'d str),
    Several,
}

impl<'d> Found<'d> {
    /// One more child with this name.
    pub fn one_more(self, text: &'d str) -> Self {
        match self {
            Found::None => Found::One(text),
            _ => Found::Several,
        }
    }
}

impl<'d, 'a> Element<'d, 'a> {
    /// Find the children named `names` in one pass (see [`Fields`]).
    pub fn fields<const N: usize>(&self, names: [&'static str; N]) -> Fields<'d, N> {
        let mut found = [Found::None; N];
        for c in self.children() {
            let name = c.name();
            if let Some(i) = names.iter().position(|n| *n == name) {
                found[i] = found[i].one_more(c.text());
            }
        }
        Fields::new(self.name(), names, found)
    }
}

impl<'d, const N: usize> Fields<'d, N> {
    pub fn new(parent: &'d str, names: [&'static str; N], found: [Found<'d>; N]) -> Self {
        Fields {
            parent,
            names,
            found,
        }
    }

    /// As [`Element::opt_text`]. `name` must be one of the names the fields were
    /// read for (a name that is not counts as absent).
    pub fn opt_text(&self, name: &str) -> Result<Option<&'d str>, EligibilityError> {
        let i = self.names.iter().position(|n| *n == name);
        debug_assert!(i.is_some(), "{name} was not asked for");
        match i.map(|i| self.found[i]) {
            None | Some(Found::None) => Ok(None),
            Some(Found::One(t)) => Ok((!t.is_empty()).then_some(t)),
            Some(Found::Several) => Err(EligibilityError::new(
                ErrorCode::DuplicateField,
                format!("{}/{name}", self.parent),
            )),
        }
    }

    /// As [`Element::req_text`].
    pub fn req_text(&self, name: &str) -> Result<&'d str, EligibilityError> {
        self.opt_text(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.parent))
        })
    }
}

// ---------------------------------------------------------------------------------
// Writing.

/// Writes an XmlMsg document element by element, indented two spaces per level, text
/// escaped; an element with neither text nor children is written `<name/>`. The
/// output is the same for the same calls, byte for byte (reports and golden files
/// depend on it).
///
/// Bytes go straight out in the document's encoding: markup is ASCII (the same in
/// Shift_JIS and UTF-8), and only element text that is not ASCII goes through the
/// Shift_JIS encoder — where characters Shift_JIS cannot hold become numeric
/// character references (`&#NNNN;`), as [`super::encoding::encode`] does.
pub struct Writer {
    out: Vec<u8>,
    code: CharacterCode,
    /// Open elements and whether each has had a child written yet.
    open: Vec<(&'static str, bool)>,
    /// One value's text, before encoding (reused).
    scratch: String,
}

impl Writer {
    /// A document in `code`, starting with its XML declaration, with
    /// `standalone="no"` as real files have it (docs/INTERFACE.md §2: MC fixture, MR
    /// sample, SX, OD's requests).
    pub fn new(code: CharacterCode) -> Self {
        let mut w = Writer {
            out: Vec::with_capacity(2048),
            code,
            open: Vec::with_capacity(8),
            scratch: String::with_capacity(64),
        };
        w.push("<?xml version=\"1.0\" encoding=\"");
        w.push(code.xml_label());
        w.push("\" standalone=\"no\"?>\n");
        w
    }

    /// Markup: ASCII, written as is.
    fn push(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.extend_from_slice(b"  ");
        }
    }

    /// Close the parent's start tag before its first child.
    fn child_begins(&mut self) {
        if let Some((_, has_children)) = self.open.last_mut() {
            if !*has_children {
                *has_children = true;
                self.out.extend_from_slice(b">\n");
            }
        }
    }

    /// Open an element; [`Writer::end`] closes it.
    pub fn start(&mut self, name: &'static str) -> &mut Self {
        self.child_begins();
        self.indent();
        self.out.push(b'<');
        self.push(name);
        self.open.push((name, false));
        self
    }

    /// Close the innermost open element.
    pub fn end(&mut self) -> &mut Self {
        if let Some((name, has_children)) = self.open.pop() {
            if has_children {
                self.indent();
                self.out.extend_from_slice(b"</");
                self.push(name);
                self.out.extend_from_slice(b">\n");
            } else {
                self.out.extend_from_slice(b"/>\n");
            }
        }
        self
    }

    /// An element holding `value`, if there is one.
    pub fn leaf<T: Text>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        let Some(v) = value else { return self };
        self.child_begins();
        self.indent();
        self.out.push(b'<');
        self.push(name);
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        v.write_text(&mut text);
        if text.is_empty() {
            self.out.extend_from_slice(b"/>\n");
        } else {
            self.out.push(b'>');
            self.encode(&text);
            self.out.extend_from_slice(b"</");
            self.push(name);
            self.out.extend_from_slice(b">\n");
        }
        self.scratch = text;
        self
    }

    /// Element text in the document's encoding.
    fn encode(&mut self, text: &str) {
        if self.code == CharacterCode::Utf8 || text.is_ascii() {
            self.out.extend_from_slice(text.as_bytes());
            return;
        }
        let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
        let mut rest = text;
        loop {
            let room = encoder
                .max_buffer_length_from_utf8_if_no_unmappables(rest.len())
                .unwrap_or(rest.len() * 2)
                .max(16);
            self.out.reserve(room);
            let (result, read, _) = encoder.encode_from_utf8_to_vec(rest, &mut self.out, true);
            rest = &rest[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                return;
            }
        }
    }

    /// Every open element closed, the document in its encoding.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        self.out
    }
}

/// A value the [`Writer`] can write as element text.
pub trait Text {
    fn write_text(&self, out: &mut String);
}

impl Text for &str {
    fn write_text(&self, out: &mut String) {
        // Most values (codes, numbers, names) have nothing to escape: a byte scan
        // is cheaper than the escaper's set-up for such short strings.
        if self
            .bytes()
            .any(|b| matches!(b, b'<' | b'>' | b'&' | b'\'' | b'"'))
        {
            out.push_str(&quick_xml::escape::escape(*self));
        } else {
            out.push_str(self);
        }
    }
}

impl Text for &String {
    fn write_text(&self, out: &mut String) {
        self.as_str().write_text(out);
    }
}

impl Text for String {
    fn write_text(&self, out: &mut String) {
        self.as_str().write_text(out);
    }
}

/// `YYYYMMDD`.
impl Text for NaiveDate {
    fn write_text(&self, out: &mut String) {
        push_date(out, *self);
    }
}

/// `YYYYMMDDHHmmss`.
impl Text for NaiveDateTime {
    fn write_text(&self, out: &mut String) {
        push_date(out, self.date());
        for n in [self.hour(), self.minute(), self.second()] {
            push_digits(out, n, 2);
        }
    }
}

/// A whole number in at least `width` digits, zero-padded (`InsuredPartialContributionRatio`
/// is `030`, a self-pay amount is as long as it is).
#[derive(Debug, Clone, Copy)]
pub struct Padded(pub u32, pub usize);

impl Text for Padded {
    fn write_text(&self, out: &mut String) {
        push_digits(out, self.0, self.1);
    }
}

fn push_date(out: &mut String, d: NaiveDate) {
    match u32::try_from(d.year()) {
        Ok(y) if y <= 9999 => {
            push_digits(out, y, 4);
            push_digits(out, d.month(), 2);
            push_digits(out, d.day(), 2);
        }
        // Outside what the format can hold; written as chrono writes `%Y%m%d`.
        _ => {
            let _ = write!(out, "{}", d.format("%Y%m%d"));
        }
    }
}

// ---------------------------------------------------------------------------------
// Reading.

fn not_xml(reader: &Reader<&[u8]>, what: impl std::fmt::Display) -> EligibilityError {
    EligibilityError::new(
        ErrorCode::NotXml,
        format!("{what} near byte {}", reader.buffer_position()),
    )
}

/// A quick-xml reader over `text` with every well-formedness check quick-xml can
/// make itself turned on (end names match their start, no `--` inside a comment, no
/// `&` that starts no reference, no end tag without its start). Both readers
/// (this module's and `super::single`) read through it, so they refuse the same
/// documents.
pub(crate) fn reader(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    let c = reader.config_mut();
    c.check_end_names = true;
    c.check_comments = true;
    c.allow_dangling_amp = false;
    c.allow_unmatched_ends = false;
    reader
}

/// The checks of XML 1.0 well-formedness that quick-xml leaves to its caller and
/// that are about the document as a whole (XML 1.0 §2.2 `Char`, §4.3.3): a byte
/// order mark at the start of the *decoded* text (the one that chose the
/// encoding is gone by then, so this is a second one), and characters XML
/// forbids anywhere — C0 controls other than tab, line feed and carriage return,
/// and U+FFFE / U+FFFF. One pass over the bytes that the compiler can vectorise:
/// this runs for every request.
pub(crate) fn check_chars(text: &str) -> Result<(), EligibilityError> {
    let b = text.as_bytes();
    if text.starts_with('\u{FEFF}') {
        return Err(EligibilityError::new(
            ErrorCode::NotXml,
            "a second byte order mark at the start of the document",
        ));
    }
    // No short-circuit: branch-free over the whole text, then find the place only
    // when something is wrong.
    let (bad, ef) = b.iter().fold((false, false), |(bad, ef), &c| {
        (
            bad | ((c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r')),
            ef | (c == 0xEF),
        )
    });
    if bad {
        let at = b
            .iter()
            .position(|&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            .unwrap_or(0);
        return Err(EligibilityError::new(
            ErrorCode::NotXml,
            format!("control character U+{:04X} at byte {at}", b[at]),
        ));
    }
    if ef {
        if let Some(at) = text.find(['\u{FFFE}', '\u{FFFF}']) {
            return Err(EligibilityError::new(
                ErrorCode::NotXml,
                format!("non-character U+FFFE/U+FFFF at byte {at}"),
            ));
        }
    }
    Ok(())
}

/// The XML declaration (XML 1.0 §2.8 `XMLDecl`): only as the very first thing in
/// the document (`first`: no event, not even whitespace, came before it), with
/// `version` first and `1.<digits>`, then optionally `encoding`, then optionally
/// `standalone` `yes`/`no`, nothing else and nothing twice.
pub(crate) fn check_decl(
    decl: &quick_xml::events::BytesDecl<'_>,
    first: bool,
) -> Result<(), String> {
    if !first {
        return Err("XML declaration not at the start of the document".into());
    }
    // Read by hand (`S name Eq quoted-value`, XML 1.0 §2.8): every request has
    // a declaration, and quick-xml's attribute iterator costs more than the rest
    // of these checks.
    // The event holds the target `xml` too.
    let raw: &[u8] = decl;
    let raw = raw.get(3..).unwrap_or_default();
    let order = ["version", "encoding", "standalone"];
    let mut next = 0;
    let mut rest = raw;
    loop {
        let trimmed = trim_space(rest);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err("XML declaration: whitespace missing between its parts".into());
        }
        let name_len = trimmed
            .iter()
            .position(|c| *c == b'=' || is_xml_space(*c))
            .unwrap_or(trimmed.len());
        let (name, after) = trimmed.split_at(name_len);
        let Some(i) = order.iter().position(|k| k.as_bytes() == name) else {
            return Err(format!(
                "XML declaration: unexpected {:?}",
                String::from_utf8_lossy(name)
                    .chars()
                    .take(20)
                    .collect::<String>()
            ));
        };
        if i < next || (next == 0 && i != 0) {
            return Err("XML declaration: version, encoding, standalone out of order".into());
        }
        next = i + 1;
        let after = trim_space(after);
        let Some(after) = after.strip_prefix(b"=") else {
            return Err(format!("XML declaration: '=' expected after {}", order[i]));
        };
        let after = trim_space(after);
        let quote = match after.first() {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => {
                return Err(format!(
                    "XML declaration: {} value must be quoted",
                    order[i]
                ))
            }
        };
        let Some(close) = after[1..].iter().position(|c| *c == quote) else {
            return Err(format!("XML declaration: {} value not closed", order[i]));
        };
        let v = &after[1..1 + close];
        rest = &after[close + 2..];
        let ok = match i {
            0 => v.len() >= 3 && v.starts_with(b"1.") && v[2..].iter().all(u8::is_ascii_digit),
            1 => {
                !v.is_empty()
                    && v[0].is_ascii_alphabetic()
                    && v.iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            }
            _ => v == b"yes" || v == b"no",
        };
        if !ok {
            return Err(format!("XML declaration: bad {} value", order[i]));
        }
    }
    if next == 0 {
        return Err("XML declaration without version".into());
    }
    Ok(())
}

fn trim_space(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| is_xml_space(**c)).count();
    &b[n..]
}

/// An element's attributes (XML 1.0 §3.1): each once (`Unique Att Spec`), quoted,
/// `name="value"`, values without `<` and with only declared references (no DTD
/// is accepted, so the five predefined entities and character references). They
/// carry no data in XmlMsg and are otherwise ignored. Free when there are none.
fn check_attributes(s: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    if s.attributes_raw().iter().all(|c| is_xml_space(*c)) {
        return Ok(());
    }
    for a in s.attributes() {
        let a = a.map_err(|e| format!("attribute: {e}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref())
            .chars()
            .take(40)
            .collect::<String>();
        check_name(a.key.as_ref()).map_err(|e| format!("attribute {key:?}: {e}"))?;
        let v =
            std::str::from_utf8(&a.value).map_err(|_| format!("attribute {key:?}: not text"))?;
        if v.contains('<') {
            return Err(format!("attribute {key:?}: '<' in its value"));
        }
        quick_xml::escape::unescape(v).map_err(|e| format!("attribute {key:?}: {e}"))?;
    }
    Ok(())
}

/// `]]>` in text (XML 1.0 §2.4 forbids it outside CDATA). A byte scan for `>`
/// first: text rarely has one, and a substring search costs its set-up on every
/// one of the many short values of a message.
pub(crate) fn has_cdata_end(t: &str) -> bool {
    t.as_bytes().contains(&b'>') && t.contains("]]>")
}

/// XML 1.0 `S`: space, tab, carriage return, line feed — and nothing else
/// (not U+3000, not a form feed).
fn is_xml_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// An XML `Name` (§2.3), checked exactly for ASCII; non-ASCII characters are
/// accepted as name characters (XML 1.0 allows nearly all of them, and
/// Japanese element names are legal).
fn check_name(name: &[u8]) -> Result<(), &'static str> {
    let start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80;
    match name.first() {
        None => Err("empty name"),
        Some(&c) if !start(c) => Err("a name must start with a letter, '_' or ':'"),
        _ if name
            .iter()
            .all(|&c| start(c) || c.is_ascii_digit() || c == b'-' || c == b'.') =>
        {
            Ok(())
        }
        _ => Err("character not allowed in a name"),
    }
}

/// Parse a whole document. Namespace prefixes are dropped (local names only);
/// attributes are checked for well-formedness and otherwise ignored; a DOCTYPE is
/// refused (no entity expansion, ever). Everything XML 1.0 requires of a
/// well-formed document is checked, by quick-xml (see [`reader`]) or here: one
/// root, a declaration only at the start, no processing instruction named `xml`
/// elsewhere, well-formed attributes and names, no `]]>` in text, only XML
/// whitespace outside the root, no forbidden characters ([`check_chars`]).
pub fn parse(text: &str, limits: TreeLimits) -> Result<Document<'_>, EligibilityError> {
    check_chars(text)?;
    let mut reader = reader(text);
    let mut b = Builder {
        nodes: Vec::with_capacity(32),
        open: Vec::with_capacity(8),
        closed_root: false,
        limits,
    };
    let mut first = true;
    loop {
        let ev = reader.read_event().map_err(|e| not_xml(&reader, e))?;
        let was_first = std::mem::replace(&mut first, false);
        match ev {
            Event::Start(s) => b.open(text, &s, &reader)?,
            Event::Empty(s) => {
                b.open(text, &s, &reader)?;
                b.close();
            }
            // quick-xml checks that end names match their start.
            Event::End(_) => {
                if b.open.is_empty() {
                    return Err(not_xml(&reader, "end tag without start"));
                }
                b.close();
            }
            Event::Text(t) => {
                // Reading from a `&str`, the text is a slice of it: borrow it as it
                // is rather than checking it is UTF-8 again.
                let s = match within(text, &t) {
                    Some(s) => Cow::Borrowed(s),
                    None => t.decode().map_err(|e| not_xml(&reader, e))?,
                };
                if has_cdata_end(&s) {
                    return Err(not_xml(&reader, "']]>' in text"));
                }
                b.text(&reader, s)?;
            }
            Event::CData(t) => {
                if b.open.is_empty() {
                    return Err(not_xml(&reader, "CDATA outside the root element"));
                }
                let s = t.decode().map_err(|e| not_xml(&reader, e))?;
                b.text(&reader, s)?;
            }
            Event::GeneralRef(r) => {
                if b.open.is_empty() {
                    return Err(not_xml(&reader, "reference outside the root element"));
                }
                let ch = r.resolve_char_ref().map_err(|e| not_xml(&reader, e))?;
                let s: Cow<'_, str> = match ch {
                    Some(c) => Cow::Owned(c.to_string()),
                    None => {
                        let name = r.decode().map_err(|e| not_xml(&reader, e))?;
                        Cow::Borrowed(
                            quick_xml::escape::resolve_predefined_entity(&name).ok_or_else(
                                || not_xml(&reader, format!("unknown entity &{name};")),
                            )?,
                        )
                    }
                };
                b.text(&reader, s)?;
            }
            Event::DocType(_) => return Err(not_xml(&reader, "DOCTYPE is not allowed")),
            Event::Decl(d) => check_decl(&d, was_first).map_err(|e| not_xml(&reader, e))?,
            Event::PI(p) => {
                let target = p.target();
                if target.eq_ignore_ascii_case(b"xml") {
                    return Err(not_xml(
                        &reader,
                        "processing instruction named xml (a second XML declaration?)",
                    ));
                }
                check_name(target)
                    .map_err(|e| not_xml(&reader, format!("processing instruction: {e}")))?;
            }
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(&(at, _)) = b.open.last() {
        return Err(EligibilityError::new(
            ErrorCode::NotXml,
            format!("unclosed element <{}>", b.nodes[at as usize].name),
        ));
    }
    if b.nodes.is_empty() {
        return Err(EligibilityError::new(ErrorCode::NotXml, "no root element"));
    }
    Ok(Document { nodes: b.nodes })
}

/// The parser's state: the nodes so far, and the open elements with their last child.
struct Builder<'a> {
    nodes: Vec<Node<'a>>,
    open: Vec<(u32, u32)>,
    closed_root: bool,
    limits: TreeLimits,
}

impl<'a> Builder<'a> {
    /// A new element for a start or empty tag, after the limit checks.
    fn open(
        &mut self,
        text: &'a str,
        s: &quick_xml::events::BytesStart<'_>,
        reader: &Reader<&[u8]>,
    ) -> Result<(), EligibilityError> {
        if self.closed_root {
            return Err(not_xml(reader, "content after the root element"));
        }
        if self.nodes.len() >= self.limits.max_elements {
            return Err(EligibilityError::new(
                ErrorCode::TooComplex,
                format!("more than {} elements", self.limits.max_elements),
            ));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(EligibilityError::new(
                ErrorCode::TooComplex,
                format!("nested deeper than {}", self.limits.max_depth),
            ));
        }
        check_name(s.name().as_ref()).map_err(|e| not_xml(reader, format!("element name: {e}")))?;
        check_attributes(s).map_err(|e| not_xml(reader, e))?;
        let local = s.local_name();
        let name = match within(text, local.as_ref()) {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(
                std::str::from_utf8(local.as_ref())
                    .map_err(|_| not_xml(reader, "element name"))?
                    .to_string(),
            ),
        };
        let at =
            u32::try_from(self.nodes.len()).map_err(|_| not_xml(reader, "too many elements"))?;
        self.nodes.push(Node {
            name,
            ..Default::default()
        });
        if let Some((parent, last)) = self.open.last_mut() {
            if *last == 0 {
                self.nodes[*parent as usize].first_child = at;
            } else {
                self.nodes[*last as usize].next_sibling = at;
            }
            *last = at;
        }
        self.open.push((at, 0));
        Ok(())
    }

    fn close(&mut self) {
        let Some((at, _)) = self.open.pop() else {
            return;
        };
        // Text is trimmed once, when complete: trimming each chunk would eat the
        // spaces around an entity reference (`a &amp; b`).
        let node = &mut self.nodes[at as usize];
        node.text = match std::mem::take(&mut node.text) {
            Cow::Borrowed(t) => Cow::Borrowed(trim(t)),
            Cow::Owned(t) if trim(&t).len() == t.len() => Cow::Owned(t),
            Cow::Owned(t) => Cow::Owned(trim(&t).to_string()),
        };
        if self.open.is_empty() {
            self.closed_root = true;
        }
    }

    fn text(&mut self, reader: &Reader<&[u8]>, s: Cow<'a, str>) -> Result<(), EligibilityError> {
        match self.open.last() {
            Some(&(at, _)) => {
                let node = &mut self.nodes[at as usize];
                // Leading whitespace is trimmed at the end anyway, so text that is
                // only whitespace so far is replaced rather than appended to: the
                // indentation between child elements then costs no copy.
                if trim(&node.text).is_empty() {
                    node.text = s;
                } else {
                    node.text.to_mut().push_str(&s);
                }
                Ok(())
            }
            None if s.bytes().all(is_xml_space) => Ok(()),
            None => Err(not_xml(reader, "text outside the root element")),
        }
    }
}

/// `str::trim`, quicker for the two cases every message is full of: a value that
/// starts and ends with a visible ASCII character (nothing to trim), and the
/// indentation between elements (ASCII whitespace only).
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let visible = |c: u8| c.is_ascii_graphic();
    match (b.first(), b.last()) {
        (None, _) | (_, None) => s,
        (Some(&f), Some(&l)) if visible(f) && visible(l) => s,
        // Every one of these is `char::is_whitespace`.
        _ if b
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)) =>
        {
            ""
        }
        _ => s.trim(),
    }
}

/// `part` as a slice of `text`, when it lies inside it (quick-xml reading from a
/// `&str` hands out slices of it): lets element names borrow instead of copy.
pub(crate) fn within<'a>(text: &'a str, part: &[u8]) -> Option<&'a str> {
    let offset = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(offset..offset.checked_add(part.len())?)
        .filter(|s| s.as_ptr() == part.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_text_and_entities() {
        let t = "<?xml version=\"1.0\"?><a><b>x &amp; &#x30;</b><c/><c></c></a>";
        let doc = parse(t, TreeLimits::default()).unwrap();
        let e = doc.root();
        assert_eq!(e.name(), "a");
        assert_eq!(e.req_text("b").unwrap(), "x & 0");
        assert_eq!(e.all("c").count(), 2);
        assert!(e.child("c").is_err());
    }

    #[test]
    fn refuses_broken_documents() {
        for bad in [
            "",
            "plain",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>&nope;</a>",
        ] {
            assert!(parse(bad, TreeLimits::default()).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(
            parse(&deep, TreeLimits::default()).unwrap_err().code,
            ErrorCode::TooComplex
        );
    }

    /// Documents that are not well-formed XML 1.0 but that quick-xml alone lets
    /// through (issue 14, item 18), each refused with a detail naming what.
    pub(crate) const NOT_WELL_FORMED: &[(&str, &str)] = &[
        ("<a x=\"1\" x=\"2\"/>", "attribute"),
        (
            "<a><b/><?xml version=\"1.0\"?></a>",
            "declaration not at the start",
        ),
        (
            "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><a/>",
            "declaration not at the start",
        ),
        ("<a><?XML x?></a>", "named xml"),
        ("\u{FEFF}<a/>", "byte order mark"),
        ("<a><!-- a -- b --></a>", "comment"),
        ("<a x=1/>", "attribute"),
        ("<a x=\"<\"/>", "'<' in its value"),
        ("<a x=\"&nope;\"/>", "attribute"),
        ("<a x=\"a & b\"/>", "attribute"),
        ("text<a/>", "text outside the root"),
        ("\u{3000}<a/>", "text outside the root"),
        (
            " <?xml version=\"1.0\"?><a/>",
            "declaration not at the start",
        ),
        (
            "<?xml encoding=\"UTF-8\" version=\"1.0\"?><a/>",
            "XML declaration",
        ),
        ("<?xml version=\"2.0\"?><a/>", "version"),
        (
            "<?xml version=\"1.0\" standalone=\"maybe\"?><a/>",
            "standalone",
        ),
        ("<?xml version=\"1.0\" foo=\"1\"?><a/>", "unexpected"),
        (
            "<?xml version=\"1.0\"encoding=\"UTF-8\"?><a/>",
            "whitespace",
        ),
        ("<?xml version=1.0?><a/>", "quoted"),
        ("<?xml version=\"1.0?><a/>", "XML declaration"),
        ("<?xml version=\"1.0\" version=\"1.0\"?><a/>", "order"),
        ("<?xml?><a/>", "without version"),
        ("<a>\u{1}</a>", "control character U+0001"),
        ("<a>\u{FFFE}</a>", "U+FFFE"),
        ("<a>x]]>y</a>", "']]>'"),
        ("<1a/>", "element name"),
        ("<a/><![CDATA[ ]]>", "CDATA outside"),
        ("<a/>&#32;", "outside the root"),
        ("<a><? x?></a>", "processing instruction"),
        ("<a></a\u{1}>", "control character"),
    ];

    #[test]
    fn refuses_what_xml_forbids_and_says_what() {
        for (doc, what) in NOT_WELL_FORMED {
            let e = parse(doc, TreeLimits::default()).unwrap_err();
            assert_eq!(e.code, ErrorCode::NotXml, "{doc:?}: {e}");
            assert!(e.detail.contains(what), "{doc:?}: {e} should name {what:?}");
        }
        let dup = format!(
            "<a {}/>",
            (0..1000).map(|_| "x=\"1\"").collect::<Vec<_>>().join(" ")
        );
        assert!(parse(&dup, TreeLimits::default())
            .unwrap_err()
            .detail
            .contains("attribute"));
        // Still well-formed: declaration first, attributes, PIs, comments, XML space.
        for ok in [
            "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\r\n<a x='1' y=\"&amp;&#60;\"/>\n",
            "<?xml version=\"1.0\"?><!-- c --><?pi x?><a><?xml-stylesheet x?><b/></a> \t",
            "<?xml version = '1.0'\tencoding= \"cp932\"  standalone='yes' ?><a/>",
            "<a:b xmlns:a=\"u\"><c>資格</c></a:b>",
            "<資格><確認/></資格>",
        ] {
            parse(ok, TreeLimits::default()).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn writes_what_it_reads() {
        let mut w = Writer::new(CharacterCode::Utf8);
        w.start("r")
            .leaf("x", Some("<&>ｱｲ"))
            .start("empty")
            .end()
            .leaf("d", Some(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()))
            .leaf("n", Some(Padded(30, 3)))
            .leaf::<&str>("absent", None)
            .leaf("blank", Some(""));
        let text = String::from_utf8(w.finish()).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<r>\n  \
             <x>&lt;&amp;&gt;ｱｲ</x>\n  <empty/>\n  <d>20260401</d>\n  <n>030</n>\n  \
             <blank/>\n</r>\n"
        );
        let doc = parse(&text, TreeLimits::default()).unwrap();
        let root = doc.root();
        assert_eq!(root.req_text("x").unwrap(), "<&>ｱｲ");
        assert_eq!(root.child("empty").unwrap().unwrap().text(), "");
        assert_eq!(
            root.children().map(|c| c.name()).collect::<Vec<_>>(),
            ["x", "empty", "d", "n", "blank"]
        );
        assert_eq!(root.req_text("n").unwrap(), "030");
    }

    proptest::proptest! {
        /// Writing Shift_JIS directly gives the bytes of writing UTF-8 and encoding the
        /// whole document afterwards (unmappable characters as references included).
        #[test]
        fn shift_jis_written_directly_is_the_encoded_document(
            texts in proptest::collection::vec("[a-z<&>ｱ-ﾝ資格確認﨑髙😀é -]{0,12}", 1..6),
        ) {
            let doc = |code| {
                let mut w = Writer::new(code);
                w.start("r");
                for t in &texts {
                    w.leaf("t", Some(t.as_str()));
                }
                w.finish()
            };
            let utf8 = String::from_utf8(doc(CharacterCode::Utf8)).unwrap();
            let expected = super::super::encoding::encode(
                &utf8.replacen("UTF-8", "Shift_JIS", 1),
                CharacterCode::ShiftJis,
            );
            proptest::prop_assert_eq!(doc(CharacterCode::ShiftJis), expected);
        }

        /// The quick trim is `str::trim`, Unicode whitespace (U+3000, U+0085…) included.
        #[test]
        fn quick_trim_is_str_trim(s in "[ \t\n\r\x0b\x0c\u{85}\u{a0}\u{3000}a-c資0-9<]{0,8}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }
    }

    #[test]
    fn names_and_text_borrow_from_the_document() {
        let t = "<a>\n  <b> x </b>\n  <c>1 &amp; 2</c>\n</a>";
        let doc = parse(t, TreeLimits::default()).unwrap();
        assert!(matches!(doc.nodes[0].name, Cow::Borrowed(_)));
        assert!(matches!(doc.nodes[0].text, Cow::Borrowed("")));
        assert!(matches!(doc.nodes[1].text, Cow::Borrowed("x")));
        assert_eq!(doc.root().req_text("b").unwrap(), "x");
        assert_eq!(doc.root().req_text("c").unwrap(), "1 & 2");
    }

    #[test]
    fn dates_and_numbers_are_written_like_chrono_and_format() {
        for (y, m, d) in [(1, 1, 1), (999, 12, 31), (2026, 11, 22), (9999, 12, 31)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let mut s = String::new();
            date.write_text(&mut s);
            assert_eq!(s, date.format("%Y%m%d").to_string());
            let t = date.and_hms_opt(9, 5, 7).unwrap();
            let mut s = String::new();
            t.write_text(&mut s);
            assert_eq!(s, t.format("%Y%m%d%H%M%S").to_string());
        }
        for (n, w) in [
            (0, 3),
            (7, 3),
            (30, 3),
            (100, 3),
            (12345, 3),
            (0, 0),
            (u32::MAX, 1),
        ] {
            let mut s = String::new();
            Padded(n, w).write_text(&mut s);
            assert_eq!(s, format!("{n:0w$}"));
        }
    }
}
