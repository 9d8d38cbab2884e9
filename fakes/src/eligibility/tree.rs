//! A small element tree read with quick-xml, and the writer of the same shape.
//!
//! XmlMsg files are small, element-only documents (no attributes carry data, no mixed
//! content), so a tree of `name + text + children` is all the vocabulary needs. Reading
//! into a tree first keeps the field extraction in `xml` simple and lets every
//! structural problem surface as one typed error. Limits on depth and element count
//! keep a hostile file from costing more than its size.

use quick_xml::events::Event;
use quick_xml::Reader;

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
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

// Redacted: element text may be a patient's name.
impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.name)
            .field("text_len", &self.text.len())
            .field("children", &self.children)
            .finish()
    }
}

impl Element {
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Children with this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The only child with this name; `DuplicateField` if there are several.
    pub fn child(&self, name: &str) -> Result<Option<&Element>, EligibilityError> {
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
    pub fn req_child(&self, name: &str) -> Result<&Element, EligibilityError> {
        self.child(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name))
        })
    }

    /// Text of an optional child; an empty element counts as absent.
    pub fn opt_text(&self, name: &str) -> Result<Option<&str>, EligibilityError> {
        Ok(self
            .child(name)?
            .map(|e| e.text.as_str())
            .filter(|t| !t.is_empty()))
    }

    /// Text of a required child; empty counts as missing.
    pub fn req_text(&self, name: &str) -> Result<&str, EligibilityError> {
        self.opt_text(name)?.ok_or_else(|| {
            EligibilityError::new(ErrorCode::MissingField, format!("{}/{name}", self.name))
        })
    }

    /// Builder: append a child with text, if there is a value.
    pub fn leaf(&mut self, name: &str, text: Option<impl Into<String>>) -> &mut Self {
        if let Some(t) = text {
            let mut e = Element::new(name);
            e.text = t.into();
            self.children.push(e);
        }
        self
    }

    /// Builder: append a child element.
    pub fn push(&mut self, e: Element) -> &mut Self {
        self.children.push(e);
        self
    }

    /// Write as indented XML, text escaped.
    pub fn write(&self, out: &mut String, indent: usize) {
        for _ in 0..indent {
            out.push_str("  ");
        }
        out.push('<');
        out.push_str(&self.name);
        if self.children.is_empty() {
            if self.text.is_empty() {
                out.push_str("/>\n");
                return;
            }
            out.push('>');
            out.push_str(&quick_xml::escape::escape(self.text.as_str()));
        } else {
            out.push_str(">\n");
            for c in &self.children {
                c.write(out, indent + 1);
            }
            for _ in 0..indent {
                out.push_str("  ");
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
    }
}

fn not_xml(reader: &Reader<&[u8]>, what: impl std::fmt::Display) -> EligibilityError {
    EligibilityError::new(
        ErrorCode::NotXml,
        format!("{what} near byte {}", reader.buffer_position()),
    )
}

/// Parse a whole document into its root element. Namespace prefixes are dropped
/// (local names only); attributes are ignored; a DOCTYPE is refused (no entity
/// expansion, ever).
pub fn parse(text: &str, limits: TreeLimits) -> Result<Element, EligibilityError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| not_xml(&reader, e))?;
        match ev {
            Event::Start(s) => {
                let el = open(&s, &reader, root.is_some(), stack.len(), &mut count, limits)?;
                stack.push(el);
            }
            Event::Empty(s) => {
                let el = open(&s, &reader, root.is_some(), stack.len(), &mut count, limits)?;
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
                push_text(&mut stack, &reader, &s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| not_xml(&reader, e))?;
                push_text(&mut stack, &reader, &s)?;
            }
            Event::GeneralRef(r) => {
                let ch = r.resolve_char_ref().map_err(|e| not_xml(&reader, e))?;
                let s = match ch {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| not_xml(&reader, e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| not_xml(&reader, format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                push_text(&mut stack, &reader, &s)?;
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
fn open(
    s: &quick_xml::events::BytesStart<'_>,
    reader: &Reader<&[u8]>,
    after_root: bool,
    depth: usize,
    count: &mut usize,
    limits: TreeLimits,
) -> Result<Element, EligibilityError> {
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
    let name = std::str::from_utf8(local.as_ref()).map_err(|_| not_xml(reader, "element name"))?;
    Ok(Element::new(name))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, mut el: Element) {
    // Text is trimmed once, when complete: trimming each chunk would eat the spaces
    // around an entity reference (`a &amp; b`).
    let t = el.text.trim();
    if t.len() != el.text.len() {
        el.text = t.to_string();
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(
    stack: &mut [Element],
    reader: &Reader<&[u8]>,
    s: &str,
) -> Result<(), EligibilityError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(s);
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
        let mut root = Element::new("r");
        root.leaf("x", Some("<&>ｱｲ"));
        root.push(Element::new("empty"));
        let mut s = String::new();
        root.write(&mut s, 0);
        assert_eq!(parse(&s, TreeLimits::default()).unwrap(), root);
    }
}
