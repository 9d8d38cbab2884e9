//! The fast path of reading a single inquiry (`OQSsiquc01`, 資格確認（一件照会）).
//!
//! Every confirmation at a clinic's reception is one of these, so it is the hot path
//! of the eligibility API. The general reader ([`super::tree`] then
//! [`super::xml`]) builds an element tree first; this one reads the quick-xml events
//! of a plain, well-formed single inquiry straight into the same [`Fields`], and the
//! same field rules of [`super::xml`] turn them into a [`Request`]. It gives up
//! (`None`) at anything it does not expect — an unknown or repeated element, text
//! where only whitespace belongs, an entity or CDATA, a DOCTYPE, a value the field
//! rules refuse — and the caller then reads the message with the general reader,
//! which is the reference for every error and its wording. So this path never
//! answers differently; it only answers sooner (`benches/benches/eligibility.rs`);
//! the property test below checks both readers agree on generated and mangled
//! messages.

use quick_xml::events::Event;

use super::request::{
    read_request_header, read_search, Request, RequestBody, HEADER_FIELDS, SEARCH_FIELDS,
};
use super::tree::{check_chars, check_decl, reader, within, Fields, Found};

/// Where the reader is: the elements it knows, outermost first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Document,
    XmlMsg,
    Header,
    Body,
    Search,
    /// A leaf field: header (`true`) or search info, and its index.
    Field(bool, usize),
    /// After the root element closed.
    Done,
}

/// Read `text` (decoded) as a single inquiry, or `None` when it is anything but a
/// plain, valid one (see the module documentation).
pub fn read(text: &str) -> Option<Request> {
    // The same reader and the same well-formedness checks as the general reader
    // (`tree::parse`); what they would refuse, this path leaves to it.
    check_chars(text).ok()?;
    let mut reader = reader(text);
    let mut first = true;
    let mut at = At::Document;
    let (mut seen_header, mut seen_body, mut seen_search) = (false, false, false);
    let mut header = [Found::None; 4];
    let mut search = [Found::None; 7];
    // The text of the open field, if it had any.
    let mut field_text: Option<&str> = None;
    loop {
        let ev = reader.read_event().ok()?;
        let was_first = std::mem::replace(&mut first, false);
        match ev {
            // Attributes (rare, data-free) are left to the general reader's checks.
            Event::Start(s) | Event::Empty(s) if !no_attributes(&s) => return None,
            Event::Start(s) => {
                let name = s.local_name();
                let name = name.as_ref();
                at = match at {
                    At::Document if name == b"XmlMsg" => At::XmlMsg,
                    At::XmlMsg if name == b"MessageHeader" && !seen_header => {
                        seen_header = true;
                        At::Header
                    }
                    At::XmlMsg if name == b"MessageBody" && !seen_body => {
                        seen_body = true;
                        At::Body
                    }
                    At::Body if name == b"QualificationConfirmSearchInfo" && !seen_search => {
                        seen_search = true;
                        At::Search
                    }
                    At::Header => At::Field(true, index(&HEADER_FIELDS, name)?),
                    At::Search => At::Field(false, index(&SEARCH_FIELDS, name)?),
                    _ => return None,
                };
                field_text = None;
            }
            Event::Empty(s) => {
                let name = s.local_name();
                let name = name.as_ref();
                // An empty field, as the general reader sees it: present, no text.
                match at {
                    At::Header => {
                        let i = index(&HEADER_FIELDS, name)?;
                        header[i] = header[i].one_more("");
                    }
                    At::Search => {
                        let i = index(&SEARCH_FIELDS, name)?;
                        search[i] = search[i].one_more("");
                    }
                    _ => return None,
                }
            }
            Event::Text(t) => {
                let t = within(text, &t)?;
                if super::tree::has_cdata_end(t) {
                    return None;
                }
                if let At::Field(..) = at {
                    if field_text.is_some() {
                        return None;
                    }
                    field_text = Some(t);
                } else if !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                    return None;
                }
            }
            Event::End(_) => {
                // quick-xml has checked the name matches its start tag.
                at = match at {
                    At::Field(in_header, i) => {
                        let t = field_text.take().map(str::trim).unwrap_or("");
                        let slot = if in_header {
                            &mut header[i]
                        } else {
                            &mut search[i]
                        };
                        *slot = slot.one_more(t);
                        if in_header {
                            At::Header
                        } else {
                            At::Search
                        }
                    }
                    At::Search => At::Body,
                    At::Header | At::Body => At::XmlMsg,
                    At::XmlMsg => At::Done,
                    At::Document | At::Done => return None,
                };
            }
            Event::Decl(d) => check_decl(&d, was_first).ok()?,
            Event::Comment(_) => {}
            Event::PI(_) | Event::CData(_) | Event::GeneralRef(_) | Event::DocType(_) => {
                return None
            }
            Event::Eof => break,
        }
    }
    if at != At::Done || !seen_search {
        return None;
    }
    let header =
        read_request_header(&Fields::new("MessageHeader", HEADER_FIELDS, header), true).ok()?;
    let info = read_search(&Fields::new(
        "QualificationConfirmSearchInfo",
        SEARCH_FIELDS,
        search,
    ))
    .ok()?;
    Some(Request {
        header,
        body: RequestBody::Single(info),
    })
}

fn no_attributes(s: &quick_xml::events::BytesStart<'_>) -> bool {
    s.attributes_raw()
        .iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Which of `names` this element name is.
fn index(names: &[&str], name: &[u8]) -> Option<usize> {
    names.iter().position(|n| n.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::eligibility::encoding::{self, CharacterCode};
    use crate::eligibility::population::{Population, PopulationConfig};
    use crate::eligibility::tree;
    use crate::eligibility::xml::{read_request, Limits, MessageKind, RequestHeader};

    /// What the general reader makes of `text`.
    fn general(text: &str) -> Option<Request> {
        let limits = Limits::default();
        let doc = tree::parse(text, limits.tree).ok()?;
        read_request(MessageKind::Single, doc.root(), &limits).ok()
    }

    /// How the request writes a 6-digit insurer number: as is, space-padded to 8
    /// (what real terminals and our writer do) or zero-padded (some clients).
    #[derive(Debug, Clone, Copy)]
    enum Pad {
        Six,
        Spaces,
        Zeros,
    }

    fn request(
        h: u64,
        consent: Option<bool>,
        id: Option<String>,
        code: CharacterCode,
        pad: Pad,
    ) -> String {
        let pop = Population::new(PopulationConfig {
            households: 2_000,
            ..Default::default()
        });
        let mut info = pop.key_of(h, 0).unwrap().to_search_info();
        let six = info.insurer_number.to_string();
        info.limit_consent = consent;
        info.arbitrary_identifier = id;
        let bytes = Request {
            header: RequestHeader {
                qualification_confirmation_date: Some(pop.config().epoch),
                medical_institution_code: "1313120014".parse().unwrap(),
                arbitrary_file_identifier: Some("受付①".into()),
                character_code_identifier: None,
            },
            body: RequestBody::Single(info),
        }
        .render(code);
        let text = encoding::decode(&bytes).unwrap().0.into_owned();
        if six.len() != 6 {
            return text;
        }
        let written = format!("<InsurerNumber>  {six}</InsurerNumber>");
        assert!(text.contains(&written), "{text}");
        let form = match pad {
            Pad::Six => six,
            Pad::Spaces => format!("  {six}"),
            Pad::Zeros => format!("00{six}"),
        };
        text.replace(&written, &format!("<InsurerNumber>{form}</InsurerNumber>"))
    }

    /// Fragments that make a message unusual in every way the fast path must notice.
    const SPLICES: &[&str] = &[
        "<InsurerNumber>06130014</InsurerNumber>",
        "<Birthdate/>",
        "<Unknown>x</Unknown>",
        "<Unknown/>",
        "x",
        " ",
        "\u{3000}",
        "&amp;",
        "&#x41;",
        "<![CDATA[1]]>",
        "<!-- c -->",
        "<?pi x?>",
        "</MessageBody>",
        "<MessageBody>",
        "<QualificationConfirmSearchInfo>",
        "<ns:InsuredBranchNumber>01</ns:InsuredBranchNumber>",
        "<ns:InsuredBranchNumber>01</InsuredBranchNumber>",
        "<InsuredBranchNumber>01</InsuredBranchNumbe>",
        "<MedicalInstitutionCode>1313120014</MedicalInstitutionCode>",
        "<CharacterCodeIdentifier>1</CharacterCodeIdentifier>",
        "<!DOCTYPE x>",
        "<",
        ">",
        // Not well-formed in ways quick-xml alone lets through (issue 14, item 18).
        "<?xml version=\"1.0\"?>",
        "<?XML x?>",
        "\u{FEFF}",
        "<!-- a -- b -->",
        "<X a=\"1\" a=\"1\"/>",
        "<X a=1/>",
        "<X a=\"<\"/>",
        " a=\"1\" a=\"2\"",
        " a=\"1\"",
        "]]>",
        "\u{1}",
        "\u{FFFF}",
        "\u{3000}",
    ];

    /// Each not-well-formed variant of a plain request: the fast path does not
    /// answer it, and the general reader refuses it as not XML.
    #[test]
    fn not_well_formed_requests_are_refused_by_both_readers() {
        let plain = request(
            7,
            Some(true),
            Some("id1".into()),
            CharacterCode::Utf8,
            Pad::Six,
        );
        assert!(read(&plain).is_some());
        let body = plain.find("<MessageBody>").unwrap() + "<MessageBody>".len();
        let root = plain.find("<XmlMsg").unwrap();
        let at = |i: usize, s: &str| {
            let mut t = plain.clone();
            t.insert_str(i, s);
            t
        };
        let dup_attrs = format!(
            "<XmlMsg {}>",
            (0..1000).map(|_| "a=\"1\"").collect::<Vec<_>>().join(" ")
        );
        let cases = [
            plain.replacen("<XmlMsg>", &dup_attrs, 1),
            at(body, "<?xml version=\"1.0\"?>"),
            at(body, "<?XML x?>"),
            at(0, "\u{FEFF}"),
            at(body, "<!-- a -- b -->"),
            plain.replacen("<XmlMsg>", "<XmlMsg a=1>", 1),
            plain.replacen("<XmlMsg>", "<XmlMsg a=\"<\">", 1),
            at(root, "x"),
            at(root, "\u{3000}"),
            plain.replacen("id1", "id]]>1", 1),
            plain.replacen("id1", "id\u{1}1", 1),
        ];
        for text in cases {
            assert!(read(&text).is_none(), "fast path answered {text:?}");
            let limits = Limits::default();
            let e = tree::parse(&text, limits.tree).unwrap_err();
            assert_eq!(e.code, crate::eligibility::ErrorCode::NotXml, "{e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whenever the fast path answers, it answers what the general reader does;
        /// on plain requests it does answer.
        #[test]
        fn fast_path_agrees_with_the_general_reader(
            h in 0u64..2_000,
            consent in proptest::option::of(any::<bool>()),
            id in proptest::option::of("[a-z0-9&<]{1,6}"),
            utf8 in any::<bool>(),
            pad in proptest::sample::select(vec![Pad::Six, Pad::Spaces, Pad::Zeros]),
            splices in proptest::collection::vec(
                (any::<proptest::sample::Index>(), proptest::bool::weighted(0.2), 0..SPLICES.len()),
                0..3,
            ),
        ) {
            let code = if utf8 { CharacterCode::Utf8 } else { CharacterCode::ShiftJis };
            // Escaped characters (entity references) are left to the general reader.
            let plain = splices.is_empty() && !id.as_deref().is_some_and(|i| i.contains(['&', '<']));
            let mut text = request(h, consent, id, code, pad);
            for (at, inside, k) in splices {
                // Mostly between tags (where structure changes), sometimes anywhere.
                let i = if inside {
                    let mut i = at.index(text.len() + 1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    i
                } else {
                    let bounds: Vec<usize> = text
                        .match_indices(['<', '>'])
                        .map(|(i, m)| if m == ">" { i + 1 } else { i })
                        .collect();
                    bounds[at.index(bounds.len())]
                };
                text.insert_str(i, SPLICES[k]);
            }
            let fast = read(&text);
            if plain {
                prop_assert!(fast.is_some(), "a plain request took the slow path");
            }
            if let Some(fast) = fast {
                prop_assert_eq!(Some(fast), general(&text));
            }
        }
    }
}
