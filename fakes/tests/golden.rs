//! The golden corpus (`fakes/tests/golden/`): requests in the shapes real clients
//! write — UTF-8 on one line, Shift_JIS with CRLF, 6-digit insurer numbers as is,
//! space-padded and zero-padded, bulk downloads with only `MedicalInstitutionCode`
//! in the header (docs/INTERFACE.md §2) — and the answer files the terminal writes
//! for them, byte for byte.
//!
//! The cases run in order through one [`Terminal`] (the bulk download needs the
//! upload before it). Each case `NN-name` has `NN-name.req` (the request bytes, read
//! from disk), `NN-name.res` (the expected answer) and, for failed bulk requests,
//! `NN-name.err`. `ONSIM_BLESS=1 cargo test -p fakes --test golden` rewrites the
//! corpus from the case list below; review the diff before committing it.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::population::{Feature, Population, PopulationConfig, SearchKey};
use fakes::eligibility::values::{InsuredCardClass, QualificationValidity};
use fakes::eligibility::xml::{parse_response, ResponseBody};
use fakes::eligibility::Terminal;
use fakes::time::VirtualTime;

const INSTITUTION: &str = "1313120014";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn population() -> Population {
    Population::new(PopulationConfig {
        seed: 20_240_401,
        households: 20_000,
        ..Default::default()
    })
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
}

/// How a request is written.
#[derive(Clone, Copy)]
enum Shape {
    /// UTF-8, no line breaks, `CharacterCodeIdentifier` 0.
    Utf8OneLine,
    /// Shift_JIS, CRLF line ends, indented, `CharacterCodeIdentifier` 1.
    ShiftJisCrlf,
    /// Shift_JIS, CRLF, no `CharacterCodeIdentifier` (the terminal's default).
    ShiftJisNoCci,
}

/// How a 6-digit insurer number is written.
#[derive(Clone, Copy)]
enum Pad {
    Six,
    Spaces,
    Zeros,
}

fn insurer(k: &SearchKey, pad: Pad) -> String {
    let n = k.insurer_number.to_string();
    match (n.len(), pad) {
        (6, Pad::Spaces) => format!("  {n}"),
        (6, Pad::Zeros) => format!("00{n}"),
        _ => n,
    }
}

/// Lines of an XmlMsg written by hand, joined as the shape says.
fn document(shape: Shape, lines: &[String]) -> Vec<u8> {
    let (decl, sep, cci) = match shape {
        Shape::Utf8OneLine => ("UTF-8", "", Some("0")),
        Shape::ShiftJisCrlf => ("Shift_JIS", "\r\n", Some("1")),
        Shape::ShiftJisNoCci => ("Shift_JIS", "\r\n", None),
    };
    let mut text = format!("<?xml version=\"1.0\" encoding=\"{decl}\" standalone=\"no\"?>{sep}");
    for l in lines {
        let l = match cci {
            None => l.replace("<CharacterCodeIdentifier>@</CharacterCodeIdentifier>", ""),
            Some(c) => l.replace(
                "<CharacterCodeIdentifier>@</CharacterCodeIdentifier>",
                &format!("<CharacterCodeIdentifier>{c}</CharacterCodeIdentifier>"),
            ),
        };
        if l.is_empty() {
            continue;
        }
        if sep.is_empty() {
            text.push_str(l.trim_start());
        } else {
            text.push_str(&l);
            text.push_str(sep);
        }
    }
    match shape {
        Shape::Utf8OneLine => text.into_bytes(),
        _ => encoding_rs::SHIFT_JIS.encode(&text).0.into_owned(),
    }
}

fn search_lines(k: &SearchKey, pad: Pad, consent: Option<&str>, id: &str) -> Vec<String> {
    let mut v = vec![
        "    <QualificationConfirmSearchInfo>".to_string(),
        format!("      <InsurerNumber>{}</InsurerNumber>", insurer(k, pad)),
    ];
    if let Some(s) = &k.symbol {
        v.push(format!("      <InsuredCardSymbol>{s}</InsuredCardSymbol>"));
    }
    v.push(format!(
        "      <InsuredIdentificationNumber>{}</InsuredIdentificationNumber>",
        k.number
    ));
    if let Some(b) = &k.branch {
        v.push(format!(
            "      <InsuredBranchNumber>{b}</InsuredBranchNumber>"
        ));
    }
    v.push(format!(
        "      <Birthdate>{}</Birthdate>",
        k.birthdate.format("%Y%m%d")
    ));
    if let Some(c) = consent {
        v.push(format!(
            "      <LimitApplicationCertificateRelatedConsFlg>{c}</LimitApplicationCertificateRelatedConsFlg>"
        ));
    }
    v.push(format!(
        "      <ArbitraryIdentifier>{id}</ArbitraryIdentifier>"
    ));
    v.push("    </QualificationConfirmSearchInfo>".to_string());
    v
}

fn single(shape: Shape, k: &SearchKey, pad: Pad, consent: Option<&str>, file_id: &str) -> Vec<u8> {
    let mut lines = vec![
        "<XmlMsg>".to_string(),
        "  <MessageHeader>".to_string(),
        format!(
            "    <QualificationConfirmationDate>{}</QualificationConfirmationDate>",
            epoch().format("%Y%m%d")
        ),
        format!("    <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"),
        format!("    <ArbitraryFileIdentifier>{file_id}</ArbitraryFileIdentifier>"),
        "    <CharacterCodeIdentifier>@</CharacterCodeIdentifier>".to_string(),
        "  </MessageHeader>".to_string(),
        "  <MessageBody>".to_string(),
    ];
    lines.extend(search_lines(k, pad, consent, &format!("{file_id}-p")));
    lines.extend(["  </MessageBody>".to_string(), "</XmlMsg>".to_string()]);
    document(shape, &lines)
}

/// Writes a case's request from the population and the answers so far.
type MakeRequest = Box<dyn Fn(&Population, &[Vec<u8>]) -> Vec<u8>>;

/// One case: its corpus name, the request file name, the request (when blessing)
/// and the virtual time it is answered at.
struct Case {
    name: &'static str,
    file: &'static str,
    request: MakeRequest,
    at: VirtualTime,
}

fn at(h: u32, m: u32) -> VirtualTime {
    VirtualTime::at(epoch(), h, m)
}

fn reception_number(answers: &[Vec<u8>], i: usize) -> String {
    match parse_response(&answers[i]).unwrap().body {
        ResponseBody::BulkAccepted {
            reception_number, ..
        } => reception_number,
        other => panic!("case {i} is not an upload answer: {other:?}"),
    }
}

fn cases() -> Vec<Case> {
    use QualificationValidity as V;
    let f = |p: &Population, want: Feature| p.example_with(want);
    vec![
        Case {
            name: "01-single-utf8-one-line",
            file: "OQSsiquc01req_g01.xml",
            request: Box::new(|p, _| {
                single(
                    Shape::Utf8OneLine,
                    &p.example(V::Valid),
                    Pad::Six,
                    None,
                    "g01",
                )
            }),
            at: at(9, 0),
        },
        Case {
            name: "02-single-shift-jis-crlf",
            file: "OQSsiquc01req_g02.xml",
            request: Box::new(|p, _| {
                single(
                    Shape::ShiftJisCrlf,
                    &p.example(V::Valid),
                    Pad::Six,
                    Some("0"),
                    "g02",
                )
            }),
            at: at(9, 0),
        },
        Case {
            name: "03-single-no-cci-default-encoding",
            file: "OQSsiquc01req_g03.xml",
            request: Box::new(|p, _| {
                single(
                    Shape::ShiftJisNoCci,
                    &p.example(V::Valid),
                    Pad::Six,
                    None,
                    "g03",
                )
            }),
            at: at(9, 0),
        },
        Case {
            name: "04-nhi-six-digits",
            file: "OQSsiquc01req_g04.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::Utf8OneLine,
                    &f(p, Feature::NationalHealthInsurance),
                    Pad::Six,
                    None,
                    "g04",
                )
            }),
            at: at(9, 1),
        },
        Case {
            name: "05-nhi-space-padded",
            file: "OQSsiquc01req_g05.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::ShiftJisCrlf,
                    &f(p, Feature::NationalHealthInsurance),
                    Pad::Spaces,
                    None,
                    "g05",
                )
            }),
            at: at(9, 1),
        },
        Case {
            name: "06-nhi-zero-padded",
            file: "OQSsiquc01req_g06.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::Utf8OneLine,
                    &f(p, Feature::NationalHealthInsurance),
                    Pad::Zeros,
                    None,
                    "g06",
                )
            }),
            at: at(9, 1),
        },
        Case {
            name: "07-dependant",
            file: "OQSsiquc01req_g07.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::Utf8OneLine,
                    &f(p, Feature::Dependant),
                    Pad::Six,
                    None,
                    "g07",
                )
            }),
            at: at(9, 2),
        },
        Case {
            name: "08-limit-certificate-with-consent",
            file: "OQSsiquc01req_g08.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::ShiftJisCrlf,
                    &f(p, Feature::LimitCertificate),
                    Pad::Six,
                    Some("1"),
                    "g08",
                )
            }),
            at: at(9, 3),
        },
        Case {
            name: "09-specific-disease-with-consent",
            file: "OQSsiquc01req_g09.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::Utf8OneLine,
                    &f(p, Feature::SpecificDisease),
                    Pad::Six,
                    Some("1"),
                    "g09",
                )
            }),
            at: at(9, 3),
        },
        Case {
            name: "10-late-elderly-ratio",
            file: "OQSsiquc01req_g10.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::Utf8OneLine,
                    &f(p, Feature::LateElderly),
                    Pad::Six,
                    None,
                    "g10",
                )
            }),
            at: at(9, 4),
        },
        Case {
            name: "11-medical-aid",
            file: "OQSsiquc01req_g11.xml",
            request: Box::new(move |p, _| {
                single(
                    Shape::ShiftJisCrlf,
                    &f(p, Feature::CardClass(InsuredCardClass::MedicalAid)),
                    Pad::Six,
                    None,
                    "g11",
                )
            }),
            at: at(9, 5),
        },
        Case {
            name: "12-lapsed-with-reason",
            file: "OQSsiquc01req_g12.xml",
            request: Box::new(|p, _| {
                single(
                    Shape::Utf8OneLine,
                    &p.example(V::Invalid),
                    Pad::Six,
                    None,
                    "g12",
                )
            }),
            at: at(9, 6),
        },
        Case {
            name: "13-not-found",
            file: "OQSsiquc01req_g13.xml",
            request: Box::new(|p, _| {
                single(
                    Shape::Utf8OneLine,
                    &p.example(V::NoRecord),
                    Pad::Six,
                    None,
                    "g13",
                )
            }),
            at: at(9, 6),
        },
        Case {
            name: "14-bulk-upload-shift-jis",
            file: "OQSmuquc01req_g14.xml",
            request: Box::new(|p, _| {
                let mut lines = vec![
                    "<XmlMsg>".to_string(),
                    "  <MessageHeader>".to_string(),
                    format!(
                        "    <QualificationConfirmationDate>{}</QualificationConfirmationDate>",
                        epoch().format("%Y%m%d")
                    ),
                    format!("    <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"),
                    "    <ArbitraryFileIdentifier>g14</ArbitraryFileIdentifier>".to_string(),
                    "    <CharacterCodeIdentifier>@</CharacterCodeIdentifier>".to_string(),
                    "  </MessageHeader>".to_string(),
                    "  <MessageBody>".to_string(),
                ];
                let keys = [
                    p.example(V::Valid),
                    p.example(V::Invalid),
                    p.example(V::InvalidNewerExists),
                    p.example(V::NoRecord),
                    p.example(V::SeveralMatches),
                    p.example_with(Feature::NationalHealthInsurance),
                ];
                for (i, k) in keys.iter().enumerate() {
                    lines.extend(search_lines(k, Pad::Spaces, Some("0"), &format!("g14-{i}")));
                }
                lines.extend(["  </MessageBody>".to_string(), "</XmlMsg>".to_string()]);
                document(Shape::ShiftJisCrlf, &lines)
            }),
            at: at(10, 0),
        },
        Case {
            name: "15-bulk-download-too-early",
            file: "OQSmuquc02req_g15.xml",
            request: Box::new(|_, answers| od_download(&reception_number(answers, 13))),
            at: at(10, 1),
        },
        Case {
            name: "16-bulk-download-only-institution-code",
            file: "OQSmuquc02req_g16.xml",
            request: Box::new(|_, answers| od_download(&reception_number(answers, 13))),
            at: at(10, 30),
        },
        Case {
            name: "17-bulk-download-unknown-number",
            file: "OQSmuquc02req_g17.xml",
            request: Box::new(|_, _| od_download("202404010000999999")),
            at: at(10, 30),
        },
        Case {
            name: "18-unreadable-single",
            file: "OQSsiquc01req_g18.xml",
            request: Box::new(|_, _| {
                b"<XmlMsg><MessageHeader><ArbitraryFileIdentifier>g18</ArbitraryFileIdentifier>"
                    .to_vec()
            }),
            at: at(10, 30),
        },
    ]
}

/// OD's `BulkQualificationService.cs` download request: Shift_JIS, CRLF, only
/// `MedicalInstitutionCode` in the header.
fn od_download(number: &str) -> Vec<u8> {
    document(
        Shape::ShiftJisNoCci,
        &[
            "<XmlMsg>".to_string(),
            "  <MessageHeader>".to_string(),
            format!("    <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"),
            "  </MessageHeader>".to_string(),
            "  <MessageBody>".to_string(),
            format!("    <ReceptionNumber>{number}</ReceptionNumber>"),
            "  </MessageBody>".to_string(),
            "</XmlMsg>".to_string(),
        ],
    )
}

fn terminal(p: &Population) -> Terminal {
    Terminal::new(Service::new(
        p.clone(),
        INSTITUTION.parse().unwrap(),
        AnswerConfig::default(),
    ))
}

fn bless() -> bool {
    std::env::var_os("ONSIM_BLESS").is_some_and(|v| v == "1")
}

fn check_or_write(path: &Path, got: &[u8], failures: &mut Vec<String>) {
    if bless() {
        std::fs::write(path, got).unwrap();
        return;
    }
    match std::fs::read(path) {
        Ok(want) if want == got => {}
        Ok(_) => failures.push(format!("{} differs", path.display())),
        Err(e) => failures.push(format!("{}: {e}", path.display())),
    }
}

#[test]
fn golden_corpus_answers_are_unchanged() {
    let p = population();
    let mut t = terminal(&p);
    let d = dir();
    if bless() {
        std::fs::create_dir_all(&d).unwrap();
    }
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let mut failures = Vec::new();
    for c in cases() {
        let req_path = d.join(format!("{}.req", c.name));
        let request = if bless() {
            let r = (c.request)(&p, &answers);
            std::fs::write(&req_path, &r).unwrap();
            r
        } else {
            std::fs::read(&req_path).unwrap_or_else(|e| {
                panic!("{}: {e} (bless with ONSIM_BLESS=1)", req_path.display())
            })
        };
        let out = t.handle_file(c.file, &request, c.at);
        // Every answer reads back to what was rendered.
        parse_response(&out.bytes).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        check_or_write(
            &d.join(format!("{}.res", c.name)),
            &out.bytes,
            &mut failures,
        );
        let err_path = d.join(format!("{}.err", c.name));
        match &out.err {
            Some(e) => {
                assert_eq!(e.name, c.file.replace(".xml", ".err"));
                check_or_write(&err_path, &e.bytes, &mut failures);
            }
            None => {
                if bless() {
                    let _ = std::fs::remove_file(&err_path);
                } else if err_path.exists() {
                    failures.push(format!("{} expected, none written", err_path.display()));
                }
            }
        }
        answers.push(out.bytes);
    }
    // A card confirmation at the reader, as a face file.
    let holder = VerifiedCardHolder::from(p.example(QualificationValidity::Valid));
    let consents = ReaderConsents {
        limit_certificate: true,
        pharmacists_info: true,
        specific_health_checkups: true,
        diagnosis_info: true,
        ..ReaderConsents::default()
    };
    let face = t.face(&holder, consents, at(11, 0));
    assert!(
        fakes::eligibility::terminal::is_face_file_name(&face.name),
        "{}",
        face.name
    );
    check_or_write(&d.join("19-face.name"), face.name.as_bytes(), &mut failures);
    check_or_write(&d.join("19-face.res"), &face.bytes, &mut failures);
    assert!(
        failures.is_empty(),
        "golden corpus (bless with ONSIM_BLESS=1): {failures:#?}"
    );
}

/// The corpus's requests are in the shapes the file claims (so a careless bless
/// cannot turn them into something else).
#[test]
fn golden_requests_have_the_real_shapes() {
    let d = dir();
    let read = |n: &str| std::fs::read(d.join(format!("{n}.req"))).unwrap();
    let one_line = read("01-single-utf8-one-line");
    assert!(std::str::from_utf8(&one_line).is_ok());
    assert!(!one_line.contains(&b'\n'));
    let crlf = read("02-single-shift-jis-crlf");
    assert!(crlf.windows(2).any(|w| w == b"\r\n"));
    assert!(!crlf.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(text(&read("05-nhi-space-padded")).contains("<InsurerNumber>  "));
    assert!(text(&read("06-nhi-zero-padded")).contains("<InsurerNumber>00"));
    let down = text(&read("16-bulk-download-only-institution-code"));
    let header =
        &down[down.find("<MessageHeader>").unwrap()..down.find("</MessageHeader>").unwrap()];
    assert_eq!(
        header.matches('<').count(),
        3,
        "only MedicalInstitutionCode: {header}"
    );
    // And their answers: the download has every uploaded person back.
    let r = parse_response(
        &std::fs::read(d.join("16-bulk-download-only-institution-code.res")).unwrap(),
    )
    .unwrap();
    let ResponseBody::BulkResults { answers } = r.body else {
        panic!("not results")
    };
    assert_eq!(answers.len(), 6);
}
