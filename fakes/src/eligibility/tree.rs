//! A small element tree read with quick-xml, and a streaming writer of the same shape.
//!
//! XmlMsg files are small, element-only documents (no attributes carry data, no mixed
//! content), so a tree of `name + text + children` is all the vocabulary needs. Reading
//! into a tree first keeps the field extraction in `xml` simple and lets every
//! structural problem surface as one typed error. Limits on depth and element count
//! keep a hostile file from costing more than its size.
//!
//! Both directions are on the eligibility API's hot path (one parse and one render per
//! confirmation), so the tree borrows names and text from the decoded document, and
//! responses are written straight into the output text by [`Writer`] rather than built
//! as a tree first (`benches/benches/eligibility.rs` measures both).

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::encoding::{self, CharacterCode};
use super::error::{EligibilityError, ErrorCode};

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

/// One element: its local name, its text (concatenated, trimmed) and its children.
/// Borrows from the document text wherever it can.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Element<'a> {
    pub name: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub children: Vec<Element<'a>>,
}

// Redacted: element text may be a patient's name.
impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.name)
            .field("text_len", &self.text.len())
            .field("children", &self.children)
            .finish()
    }
}

impl<'a> Element<'a> {
    /// Children with this name.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element<'a>> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The only child with this name; `DuplicateField` if there are several.
    pub fn child(&self, name: &str) -> Result<Option<&Element<'a>>, EligibilityError> {
        let mut it = self.children.iter().filter(|c| c.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(EligibilityError::new(
                ErrorCode::DuplicateField,
                format!("{}/{name}", self.name),
            ));
        }
        Ok(first)
    }

    /// The only child with this name, required.
    pub fn req_child(&self, name: &str) -> Result<&Element<'a>, EligibilityError> {
        self.child(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name))
        })
    }

    /// Text of an optional child; an empty element counts as absent.
    pub fn opt_text(&self, name: &str) -> Result<Option<&str>, EligibilityError> {
        Ok(self
            .child(name)?
            .map(|e| e.text.as_ref())
            .filter(|t| !t.is_empty()))
    }

    /// Text of a required child; empty counts as missing.
    pub fn req_text(&self, name: &str) -> Result<&str, EligibilityError> {
        self.opt_text(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name))
        })
    }
}

// ---------------------------------------------------------------------------------
// Writing.

/// Writes an XmlMsg document element by element, indented two spaces per level, text
/// escaped; an element with neither text nor children is written `<name/>`. The
/// output is the same for the same calls, byte for byte (reports and golden files
/// depend on it).
pub struct Writer {
    out: String,
    /// Open elements and whether each has had a child written yet.
    open: Vec<(&'static str, bool)>,
}

impl Writer {
    /// A document in `code`, starting with its XML declaration.
    pub fn new(code: CharacterCode) -> Self {
        let mut out = String::with_capacity(2048);
        out.push_str("<?xml version=\"1.0\" encoding=\"");
        out.push_str(code.xml_label());
        out.push_str("\" standalone=\"yes\"?>\n");
        Writer {
            out,
            open: Vec::with_capacity(8),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    /// Close the parent's start tag before its first child.
    fn child_begins(&mut self) {
        if let Some((_, has_children)) = self.open.last_mut() {
            if !*has_children {
                *has_children = true;
                self.out.push_str(">\n");
            }
        }
    }

    /// Open an element; [`Writer::end`] closes it.
    pub fn start(&mut self, name: &'static str) -> &mut Self {
        self.child_begins();
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.open.push((name, false));
        self
    }

    /// Close the innermost open element.
    pub fn end(&mut self) -> &mut Self {
        if let Some((name, has_children)) = self.open.pop() {
            if has_children {
                self.indent();
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push_str(">\n");
            } else {
                self.out.push_str("/>\n");
            }
        }
        self
    }

    /// An element holding `value`, if there is one.
    pub fn leaf<T: Text>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        let Some(v) = value else { return self };
        self.child_begins();
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        let before = self.out.len();
        v.write_text(&mut self.out);
        if self.out.len() == before {
            self.out.pop();
            self.out.push_str("/>\n");
        } else {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push_str(">\n");
        }
        self
    }

    /// The document so far as text (every open element closed first).
    pub fn into_text(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.out
    }

    /// The document in its encoding.
    pub fn finish(self, code: CharacterCode) -> Vec<u8> {
        encoding::encode_owned(self.into_text(), code)
    }
}

/// A value the [`Writer`] can write as element text.
pub trait Text {
    fn write_text(&self, out: &mut String);
}

impl Text for &str {
    fn write_text(&self, out: &mut String) {
        out.push_str(&quick_xml::escape::escape(*self));
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

fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in (buf.len() - i)..width {
        out.push('0');
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
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

/// Parse a whole document into its root element. Namespace prefixes are dropped
/// (local names only); attributes are ignored; a DOCTYPE is refused (no entity
/// expansion, ever).
pub fn parse(text: &str, limits: TreeLimits) -> Result<Element<'_>, EligibilityError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| not_xml(&reader, e))?;
        match ev {
            Event::Start(s) => {
                let el = open(
                    text,
                    &s,
                    &reader,
                    root.is_some(),
                    stack.len(),
                    &mut count,
                    limits,
                )?;
                stack.push(el);
            }
            Event::Empty(s) => {
                let el = open(
                    text,
                    &s,
                    &reader,
                    root.is_some(),
                    stack.len(),
                    &mut count,
                    limits,
                )?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start.
                let el = stack
                    .pop()
                    .ok_or_else(|| not_xml(&reader, "end tag without start"))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| not_xml(&reader, e))?;
                push_text(&mut stack, &reader, s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| not_xml(&reader, e))?;
                push_text(&mut stack, &reader, s)?;
            }
            Event::GeneralRef(r) => {
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
                push_text(&mut stack, &reader, s)?;
            }
            Event::DocType(_) => return Err(not_xml(&reader, "DOCTYPE is not allowed")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(EligibilityError::new(
            ErrorCode::NotXml,
            format!(
                "unclosed element <{}>",
                stack.last().expect("non-empty").name
            ),
        ));
    }
    root.ok_or_else(|| EligibilityError::new(ErrorCode::NotXml, "no root element"))
}

/// A new element for a start or empty tag, after the limit checks.
fn open<'a>(
    text: &'a str,
    s: &quick_xml::events::BytesStart<'_>,
    reader: &Reader<&[u8]>,
    after_root: bool,
    depth: usize,
    count: &mut usize,
    limits: TreeLimits,
) -> Result<Element<'a>, EligibilityError> {
    if after_root {
        return Err(not_xml(reader, "content after the root element"));
    }
    *count += 1;
    if *count > limits.max_elements {
        return Err(EligibilityError::new(
            ErrorCode::TooComplex,
            format!("more than {} elements", limits.max_elements),
        ));
    }
    if depth >= limits.max_depth {
        return Err(EligibilityError::new(
            ErrorCode::TooComplex,
            format!("nested deeper than {}", limits.max_depth),
        ));
    }
    let local = s.local_name();
    let name = match within(text, local.as_ref()) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(
            std::str::from_utf8(local.as_ref())
                .map_err(|_| not_xml(reader, "element name"))?
                .to_string(),
        ),
    };
    Ok(Element {
        name,
        ..Default::default()
    })
}

/// `part` as a slice of `text`, when it lies inside it (quick-xml reading from a
/// `&str` hands out slices of it): lets element names borrow instead of copy.
fn within<'a>(text: &'a str, part: &[u8]) -> Option<&'a str> {
    let offset = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(offset..offset.checked_add(part.len())?)
        .filter(|s| s.as_ptr() == part.as_ptr())
}

fn close<'a>(stack: &mut [Element<'a>], root: &mut Option<Element<'a>>, mut el: Element<'a>) {
    // Text is trimmed once, when complete: trimming each chunk would eat the spaces
    // around an entity reference (`a &amp; b`).
    el.text = match el.text {
        Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
        Cow::Owned(t) if t.trim().len() == t.len() => Cow::Owned(t),
        Cow::Owned(t) => Cow::Owned(t.trim().to_string()),
    };
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text<'a>(
    stack: &mut [Element<'a>],
    reader: &Reader<&[u8]>,
    s: Cow<'a, str>,
) -> Result<(), EligibilityError> {
    match stack.last_mut() {
        Some(el) => {
            // Leading whitespace is trimmed at the end anyway, so text that is only
            // whitespace so far is replaced rather than appended to: the indentation
            // between child elements then costs no copy.
            if el.text.trim().is_empty() {
                el.text = s;
            } else {
                el.text.to_mut().push_str(&s);
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(not_xml(reader, "text outside the root element")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_text_and_entities() {
        let t = "<?xml version=\"1.0\"?><a><b>x &amp; &#x30;</b><c/><c></c></a>";
        let e = parse(t, TreeLimits::default()).unwrap();
        assert_eq!(e.name, "a");
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
        let text = w.into_text();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<r>\n  \
             <x>&lt;&amp;&gt;ｱｲ</x>\n  <empty/>\n  <d>20260401</d>\n  <n>030</n>\n  \
             <blank/>\n</r>\n"
        );
        let root = parse(&text, TreeLimits::default()).unwrap();
        assert_eq!(root.req_text("x").unwrap(), "<&>ｱｲ");
        assert_eq!(root.child("empty").unwrap().unwrap().text, "");
        assert_eq!(root.req_text("n").unwrap(), "030");
    }

    #[test]
    fn names_and_text_borrow_from_the_document() {
        let t = "<a>\n  <b> x </b>\n  <c>1 &amp; 2</c>\n</a>";
        let root = parse(t, TreeLimits::default()).unwrap();
        assert!(matches!(root.name, Cow::Borrowed(_)));
        assert!(matches!(root.text, Cow::Borrowed("")));
        let b = root.child("b").unwrap().unwrap();
        assert!(matches!(b.text, Cow::Borrowed("x")));
        assert_eq!(root.req_text("c").unwrap(), "1 & 2");
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
