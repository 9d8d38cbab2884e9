//! One test per row of docs/INTERFACE.md §2–§4 that `fakes::eligibility` matches,
//! named after the row (`interface_<section>_<fact>`). Requests are written as real
//! clients write them (raw text, not through our own request writer) where the row
//! is about what clients send.

use chrono::NaiveDate;
use fakes::codes::InsurerNumber;
use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::encoding::CharacterCode;
use fakes::eligibility::other::CardKey;
use fakes::eligibility::population::{Feature, Population, PopulationConfig, SearchKey};
use fakes::eligibility::tree::{self, Element, TreeLimits};
use fakes::eligibility::values::*;
use fakes::eligibility::xml::{parse_response, MessageKind, Response, ResponseBody};
use fakes::eligibility::Terminal;
use fakes::time::VirtualTime;

const INSTITUTION: &str = "1313120014";

fn population() -> Population {
    Population::new(PopulationConfig {
        households: 20_000,
        ..Default::default()
    })
}

fn service_with(cfg: AnswerConfig) -> Service {
    Service::new(population(), INSTITUTION.parse().unwrap(), cfg)
}

fn service() -> Service {
    service_with(AnswerConfig::default())
}

fn now(s: &Service) -> VirtualTime {
    VirtualTime::at(s.population.config().epoch, 9, 30)
}

/// A single inquiry as real clients write it: one line, the given insurer-number
/// text, encoding and CCI.
fn single_text(
    s: &Service,
    key: &SearchKey,
    insurer: &str,
    cci: Option<&str>,
    extra: &str,
) -> String {
    let date = s.population.config().epoch.format("%Y%m%d");
    let cci = cci
        .map(|c| format!("<CharacterCodeIdentifier>{c}</CharacterCodeIdentifier>"))
        .unwrap_or_default();
    let symbol = key
        .symbol
        .as_deref()
        .map(|s| format!("<InsuredCardSymbol>{s}</InsuredCardSymbol>"))
        .unwrap_or_default();
    let branch = key
        .branch
        .as_deref()
        .map(|b| format!("<InsuredBranchNumber>{b}</InsuredBranchNumber>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?><XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{date}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>file-1</ArbitraryFileIdentifier>{cci}</MessageHeader>\
         <MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{insurer}</InsurerNumber>\
         {symbol}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{branch}\
         <Birthdate>{}</Birthdate>{extra}<ArbitraryIdentifier>patient-42</ArbitraryIdentifier>\
         </QualificationConfirmSearchInfo></MessageBody></XmlMsg>",
        key.number,
        key.birthdate.format("%Y%m%d"),
    )
}

fn ask(s: &mut Service, text: &str) -> (Vec<u8>, Response) {
    let r = s.handle(Some(MessageKind::Single), text.as_bytes(), now(s));
    let bytes = r.render();
    let back = parse_response(&bytes).unwrap();
    assert_eq!(back, r);
    (bytes, r)
}

fn single(r: &Response) -> &fakes::eligibility::xml::Answer {
    match &r.body {
        ResponseBody::Single(a) => a,
        other => panic!("not a single answer: {other:?}"),
    }
}

fn first_line(b: &[u8]) -> &str {
    let end = b.iter().position(|&c| c == b'\n').unwrap();
    std::str::from_utf8(&b[..end]).unwrap()
}

fn insurer_text(n: InsurerNumber) -> String {
    n.to_string()
}

// ---------------------------------------------------------------------------------
// §2 Encoding and the header.

#[test]
fn interface_2_character_code_identifier_0_is_utf8_1_is_shift_jis() {
    let mut s = service();
    let key = s.population.example(QualificationValidity::Valid);
    let ins = insurer_text(key.insurer_number);
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("0"), "");
        ask(&mut s, &q)
    };
    assert_eq!(r.header.character_code_identifier, CharacterCode::Utf8);
    assert!(first_line(&b).contains("encoding=\"UTF-8\""));
    let text = std::str::from_utf8(&b).expect("CCI 0 answers are UTF-8");
    assert!(text.contains("<CharacterCodeIdentifier>0</CharacterCodeIdentifier>"));
    assert!(
        text.contains(&single(&r).results[0].name),
        "names decode as UTF-8"
    );
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("1"), "");
        ask(&mut s, &q)
    };
    assert_eq!(r.header.character_code_identifier, CharacterCode::ShiftJis);
    assert!(first_line(&b).contains("encoding=\"Shift_JIS\""));
    assert!(std::str::from_utf8(&b).is_err(), "kanji names in Shift_JIS");
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&b);
    assert!(!bad);
    assert!(text.contains("<CharacterCodeIdentifier>1</CharacterCodeIdentifier>"));
}

#[test]
fn interface_2_output_encoding_is_a_setting_overridden_by_cci() {
    for (default, cci, want) in [
        (CharacterCode::Utf8, None, CharacterCode::Utf8),
        (CharacterCode::ShiftJis, None, CharacterCode::ShiftJis),
        (CharacterCode::Utf8, Some("1"), CharacterCode::ShiftJis),
        (CharacterCode::ShiftJis, Some("0"), CharacterCode::Utf8),
    ] {
        let mut s = service_with(AnswerConfig {
            default_character_code: default,
            ..AnswerConfig::default()
        });
        let key = s.population.example(QualificationValidity::Valid);
        let ins = insurer_text(key.insurer_number);
        let (_, r) = {
            let q = single_text(&s, &key, &ins, cci, "");
            ask(&mut s, &q)
        };
        assert_eq!(
            r.header.character_code_identifier, want,
            "{default:?} {cci:?}"
        );
    }
}

#[test]
fn interface_2_xml_declaration_standalone_no() {
    let mut s = service();
    let key = s.population.example(QualificationValidity::Valid);
    let ins = insurer_text(key.insurer_number);
    for cci in ["0", "1"] {
        let (b, _) = {
            let q = single_text(&s, &key, &ins, Some(cci), "");
            ask(&mut s, &q)
        };
        let label = if cci == "0" { "UTF-8" } else { "Shift_JIS" };
        assert_eq!(
            first_line(&b),
            format!("<?xml version=\"1.0\" encoding=\"{label}\" standalone=\"no\"?>")
        );
    }
    // Abnormal answers and bulk answers too.
    let r = s.handle(Some(MessageKind::Single), b"<XmlMsg/>", now(&s));
    assert!(first_line(&r.render()).ends_with("standalone=\"no\"?>"));
}

#[test]
fn interface_2_process_execution_time_to_the_second_never_shared() {
    let mut s = service();
    let key = s.population.example(QualificationValidity::Valid);
    let ins = insurer_text(key.insurer_number);
    let text = single_text(&s, &key, &ins, None, "");
    let t = now(&s);
    // The clock stands still (`--speed 0`): answers one second apart.
    let stamps: Vec<_> = (0..5)
        .map(|_| {
            s.handle(Some(MessageKind::Single), text.as_bytes(), t)
                .header
                .process_execution_time
        })
        .collect();
    assert_eq!(stamps[0], values::naive(t));
    for w in stamps.windows(2) {
        assert_eq!(w[1] - w[0], chrono::Duration::seconds(1));
    }
    // The clock moves on: the stamp follows it.
    let later = t.plus_minutes(10);
    let r = s.handle(Some(MessageKind::Single), text.as_bytes(), later);
    assert_eq!(r.header.process_execution_time, values::naive(later));
    let b = r.render();
    let text = String::from_utf8_lossy(&b);
    let stamp = values::naive(later).format("%Y%m%d%H%M%S").to_string();
    assert!(text.contains(&format!(
        "<ProcessExecutionTime>{stamp}</ProcessExecutionTime>"
    )));
}

use fakes::eligibility::values;

#[test]
fn interface_2_bulk_download_request_with_only_medical_institution_code() {
    let mut s = service();
    let keys: Vec<SearchKey> = (0..30).filter_map(|h| s.population.key_of(h, 0)).collect();
    let date = s.population.config().epoch.format("%Y%m%d");
    let mut up = format!(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\r\n<XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{date}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>bulk-1</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
    );
    for k in &keys {
        up.push_str(&format!(
            "<QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}\
             <InsuredIdentificationNumber>{}</InsuredIdentificationNumber>\
             <InsuredBranchNumber>00</InsuredBranchNumber><Birthdate>{}</Birthdate>\
             </QualificationConfirmSearchInfo>",
            k.insurer_number.padded(),
            k.symbol
                .as_deref()
                .map(|s| format!("<InsuredCardSymbol>{s}</InsuredCardSymbol>"))
                .unwrap_or_default(),
            k.number,
            k.birthdate.format("%Y%m%d")
        ));
    }
    up.push_str("</MessageBody></XmlMsg>");
    let up = encoding_rs::SHIFT_JIS.encode(&up).0.into_owned();
    let t = now(&s);
    let r = s.handle(Some(MessageKind::BulkUpload), &up, t);
    let ResponseBody::BulkAccepted {
        reception_number, ..
    } = &r.body
    else {
        panic!("{r:?}")
    };
    // OD's download request: the header holds only MedicalInstitutionCode.
    let down = format!(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\r\n<XmlMsg>\
         <MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         </MessageHeader><MessageBody><ReceptionNumber>{reception_number}</ReceptionNumber>\
         </MessageBody></XmlMsg>\r\n"
    );
    let r = s.handle(
        Some(MessageKind::BulkDownload),
        down.as_bytes(),
        t.plus_minutes(30),
    );
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal, "{r:?}");
    let ResponseBody::BulkResults { answers } = &r.body else {
        panic!("{r:?}")
    };
    assert_eq!(
        answers.len(),
        keys.len(),
        "every uploaded person comes back"
    );
    assert_eq!(parse_response(&r.render()).unwrap(), r);
}

#[test]
fn interface_2_nhi_insurer_numbers_padded_and_accepted_in_every_form() {
    let mut s = service();
    let key = s.population.example_with(Feature::NationalHealthInsurance);
    let six = key.insurer_number.to_string();
    assert_eq!(six.len(), 6);
    for form in [six.clone(), format!("  {six}"), format!("00{six}")] {
        let (b, r) = {
            let q = single_text(&s, &key, &form, Some("0"), "");
            ask(&mut s, &q)
        };
        let a = single(&r);
        assert_eq!(
            a.qualification_validity,
            Some(QualificationValidity::Valid),
            "{form:?}"
        );
        let text = String::from_utf8(b).unwrap();
        // Written space-padded to 8 in the result and in the echo.
        assert_eq!(
            text.matches(&format!("<InsurerNumber>  {six}</InsurerNumber>"))
                .count(),
            2,
            "{form:?}"
        );
    }
}

// ---------------------------------------------------------------------------------
// §3 The single answer.

#[test]
fn interface_3_message_body_echoes_search_info_with_arbitrary_identifier() {
    let mut s = service();
    let key = s.population.example(QualificationValidity::Valid);
    let ins = insurer_text(key.insurer_number);
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("0"), "");
        ask(&mut s, &q)
    };
    let a = single(&r);
    assert_eq!(a.arbitrary_identifier(), Some("patient-42"));
    let echo = a.search.as_ref().unwrap();
    assert_eq!(echo.insured_identification_number, key.number);
    assert_eq!(echo.birthdate, key.birthdate);
    let doc = String::from_utf8(b).unwrap();
    let t = tree::parse(&doc, TreeLimits::default()).unwrap();
    let body = t.root().req_child("MessageBody").unwrap();
    let info = body.req_child("QualificationConfirmSearchInfo").unwrap();
    assert_eq!(info.req_text("ArbitraryIdentifier").unwrap(), "patient-42");
    // MC requires the consent flag in the echo; absent in the request, it reads 0.
    assert_eq!(
        info.req_text("LimitApplicationCertificateRelatedConsFlg")
            .unwrap(),
        "0"
    );
}

/// What MC's `onshi-result` parser (`MessageHeader.ts`, `MessageBody.ts`,
/// `ResultOfQualificationConfirmation.ts`, `QualificationConfirmSearchInfo.ts`)
/// requires of a single answer, and the code values it knows.
fn mc_accepts(doc: &str) -> Result<(), String> {
    let t = tree::parse(doc, TreeLimits::default()).map_err(|e| e.to_string())?;
    let root = t.root();
    let need = |e: Element<'_, '_>, n: &str| -> Result<String, String> {
        e.req_text(n)
            .map(str::to_string)
            .map_err(|_| format!("missing {n}"))
    };
    let h = root.req_child("MessageHeader").map_err(|e| e.to_string())?;
    for n in [
        "ProcessExecutionTime",
        "QualificationConfirmationDate",
        "MedicalInstitutionCode",
        "ReferenceClassification",
        "SegmentOfResult",
        "CharacterCodeIdentifier",
    ] {
        need(h, n)?;
    }
    let b = root.req_child("MessageBody").map_err(|e| e.to_string())?;
    need(b, "ProcessingResultStatus")?;
    if let Some(info) = b.child("QualificationConfirmSearchInfo").unwrap() {
        for n in [
            "InsurerNumber",
            "InsuredIdentificationNumber",
            "Birthdate",
            "LimitApplicationCertificateRelatedConsFlg",
        ] {
            need(info, n)?;
        }
    }
    if let Some(l) = b.child("ResultList").unwrap() {
        for r in l.all("ResultOfQualificationConfirmation") {
            for n in [
                "InsuredCardClassification",
                "Name",
                "Sex1",
                "Birthdate",
                "InsurerName",
            ] {
                need(r, n)?;
            }
            let class = need(r, "InsuredCardClassification")?;
            // MC's table has 01–07; A1 (医療扶助) is in the res-watcher tables only.
            if !["01", "02", "03", "04", "05", "06", "07", "A1"].contains(&class.as_str()) {
                return Err(format!("card class {class}"));
            }
            if let Some(c) = r
                .child("SpecificDiseasesCertificateList")
                .unwrap()
                .and_then(|l| l.all("SpecificDiseasesCertificateInfo").next())
            {
                let cat = need(c, "SpecificDiseasesDiseaseCategory")?;
                if !["1", "2", "3"].contains(&cat.as_str()) {
                    return Err(format!("disease category {cat}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn interface_3_insurer_name_in_every_result_and_mc_required_fields() {
    let mut s = service();
    let features = [
        Feature::Dependant,
        Feature::NationalHealthInsurance,
        Feature::LateElderly,
        Feature::CardClass(InsuredCardClass::MedicalAid),
        Feature::Preschool,
        Feature::Alias,
        Feature::Sex2,
        Feature::LimitCertificate,
        Feature::SpecificDisease,
    ];
    let mut keys: Vec<SearchKey> = features
        .iter()
        .map(|f| s.population.example_with(*f))
        .collect();
    keys.extend(
        QualificationValidity::PRODUCED
            .iter()
            .map(|v| s.population.example(*v)),
    );
    keys.extend((0..200).filter_map(|h| s.population.key_of(h, 1)));
    for key in keys {
        let ins = insurer_text(key.insurer_number);
        for cci in ["0", "1"] {
            let extra = "<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>";
            let (b, r) = {
                let q = single_text(&s, &key, &ins, Some(cci), extra);
                ask(&mut s, &q)
            };
            for q in &single(&r).results {
                assert!(!q.insurer_name.is_empty());
            }
            let (doc, _, _) = if cci == "0" {
                encoding_rs::UTF_8.decode(&b)
            } else {
                encoding_rs::SHIFT_JIS.decode(&b)
            };
            mc_accepts(&doc).unwrap_or_else(|e| panic!("MC refuses: {e}\n{doc}"));
        }
    }
}

#[test]
fn interface_3_further_result_elements_real_software_reads() {
    let mut s = service();
    let pop = s.population.clone();
    let look = |f: Feature| {
        let k = pop.example_with(f);
        pop.lookup(&k, pop.config().epoch)
            .records
            .remove(0)
            .qualification
    };
    let q = look(Feature::Dependant);
    assert!(q.certificate_issuance_date.is_some());
    assert!(q.insured_name.is_some() && q.insured_name.as_deref() != Some(q.name.as_str()));
    let q = look(Feature::Alias);
    assert!(q.name_of_other.is_some() && q.name_of_other_kana.is_some());
    let q = look(Feature::Sex2);
    assert_eq!(q.sex, Sex::Unset);
    assert!(q.sex2.is_some());
    assert_eq!(
        look(Feature::Preschool).preschool,
        Some(PreschoolClassification::Preschool)
    );
    let q = look(Feature::ReasonOfLoss(ReasonOfLoss::Death));
    assert!(q.disqualification_date.is_some());
    // Consents, prescription choice, confirmation key and reference number on a
    // card answer.
    let key = pop.example(QualificationValidity::Valid);
    let holder = VerifiedCardHolder::from(key.clone());
    let card = CardKey::of_search_key(&key).expect("a branch number");
    assert!(s.others.references.insert(card, "R-0001".into(), 1));
    let consents = ReaderConsents {
        limit_certificate: true,
        pharmacists_info: true,
        specific_health_checkups: true,
        specific_diseases: Some(false),
        diagnosis_info: true,
        operation_info: false,
        prescription: Some(PrescriptionIssueSelect::Electronic),
        card_certificate_expiry: None,
    };
    let r = s.card(&holder, consents, now(&s));
    let b = r.render();
    assert_eq!(parse_response(&b).unwrap(), r);
    let a = single(&r);
    assert_eq!(
        a.prescription_issue_select,
        Some(PrescriptionIssueSelect::Electronic)
    );
    let q = &a.results[0];
    assert_eq!(q.reference_number.as_deref(), Some("R-0001"));
    assert_eq!(
        q.qualification_confirmation_key.as_ref().map(String::len),
        Some(32)
    );
    let t = r.header.process_execution_time;
    let p = q.pharmacists_info_consent.unwrap();
    assert_eq!((p.flag, p.time), (ConsentFlag::Given, Some(t)));
    assert_eq!(p.available_time, Some(t + chrono::Duration::hours(24)));
    assert_eq!(q.diagnosis_info_consent.unwrap().flag, ConsentFlag::Given);
    let o = q.operation_info_consent.unwrap();
    assert_eq!(
        (o.flag, o.time, o.available_time),
        (ConsentFlag::NotGiven, None, None)
    );
    let sd = q.specific_diseases_consent.unwrap();
    assert_eq!((sd.flag, sd.time), (ConsentFlag::NotGiven, None));
    let text = String::from_utf8_lossy(&b);
    for n in [
        "SpecificHealthCheckupsInfoAvailableTime",
        "PharmacistsInfoAvailableTime",
        "DiagnosisInfoConsTime",
        "DiagnosisInfoAvailableTime",
        "OperationInfoConsFlg",
        "SpecificDiseasesCertificateRelatedConsFlg",
        "PrescriptionIssueSelect",
        "ReferenceNumber",
        "QualificationConfirmationKey",
        "InsuredCertificateIssuanceDate",
        "InsuredName",
        "InsurerName",
    ] {
        assert!(text.contains(&format!("<{n}>")), "{n}");
    }
}

#[test]
fn interface_3_card_classes_with_dependants_by_family_classification() {
    let pop = population();
    let d = pop.epoch_lookup(Feature::Dependant);
    assert_eq!(d.card_class, InsuredCardClass::General);
    assert_eq!(d.person_family, PersonFamily::Family);
    let n = pop.epoch_lookup(Feature::NationalHealthInsurance);
    assert_eq!(n.card_class, InsuredCardClass::General);
    assert_eq!(n.person_family, PersonFamily::Person);
    for c in InsuredCardClass::ALL {
        let q = pop.epoch_lookup(Feature::CardClass(*c));
        assert_eq!(q.card_class, *c);
        match c {
            InsuredCardClass::MedicalAid => assert_eq!(q.insurer_number.law(), Some(12)),
            InsuredCardClass::SelfDefenseForces => assert_eq!(q.insurer_number.law(), Some(7)),
            InsuredCardClass::SpecialRetired => assert_eq!(q.insurer_number.law(), Some(6)),
            InsuredCardClass::General => {}
            _ => assert!(q.insurer_number.is_national_health_insurance(), "{c:?}"),
        }
    }
}

trait EpochLookup {
    fn epoch_lookup(&self, f: Feature) -> fakes::eligibility::xml::Qualification;
}

impl EpochLookup for Population {
    fn epoch_lookup(&self, f: Feature) -> fakes::eligibility::xml::Qualification {
        let k = self.example_with(f);
        let mut l = self.lookup(&k, self.config().epoch);
        assert_eq!(l.records.len(), 1, "{f:?}");
        l.records.remove(0).qualification
    }
}

#[test]
fn interface_3_sex_3_consent_0_to_3_validity_6() {
    assert_eq!(Sex::parse("Sex1", "3").unwrap(), Sex::Unset);
    for (c, f) in [
        ("0", ConsentFlag::NotGiven),
        ("1", ConsentFlag::Given),
        ("2", ConsentFlag::Expired),
        ("3", ConsentFlag::Difficult),
    ] {
        assert_eq!(ConsentFlag::parse("f", c).unwrap(), f);
    }
    assert_eq!(
        QualificationValidity::parse("v", "6").unwrap(),
        QualificationValidity::ValidUnregistered
    );
}

#[test]
fn interface_3_disease_category_1_to_3_only_with_consent() {
    let mut s = service();
    let key = s.population.example_with(Feature::SpecificDisease);
    let ins = insurer_text(key.insurer_number);
    let flag = |v: &str| {
        format!("<LimitApplicationCertificateRelatedConsFlg>{v}</LimitApplicationCertificateRelatedConsFlg>")
    };
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("0"), &flag("1"));
        ask(&mut s, &q)
    };
    let q = &single(&r).results[0];
    assert_eq!(q.specific_diseases.len(), 1);
    let text = String::from_utf8(b).unwrap();
    let cat = q.specific_diseases[0].category.code();
    assert_eq!(cat.len(), 1);
    assert!(text.contains(&format!(
        "<SpecificDiseasesDiseaseCategory>{cat}</SpecificDiseasesDiseaseCategory>"
    )));
    for extra in [flag("0"), String::new()] {
        let (b, r) = {
            let q = single_text(&s, &key, &ins, Some("0"), &extra);
            ask(&mut s, &q)
        };
        assert!(single(&r).results[0].specific_diseases.is_empty());
        assert!(!String::from_utf8(b)
            .unwrap()
            .contains("SpecificDiseasesCertificateList"));
    }
}

#[test]
fn interface_3_limit_categories_by_age_class_03_and_no_cons_time_when_0() {
    let pop = population();
    let mut seen = std::collections::BTreeSet::new();
    for h in 0..pop.config().households {
        for i in 0..4 {
            let Some(k) = pop.key_of(h, i) else { break };
            let l = pop.lookup(&k, pop.config().epoch);
            for r in l.records {
                if let Some(lim) = r.limit {
                    let age = pop.config().epoch.years_since(k.birthdate).unwrap();
                    let b = lim.category.code().starts_with('B');
                    assert_eq!(b, age >= 70, "{} at {age}", lim.category.code());
                    seen.insert(lim.category.code());
                    seen.insert(lim.class.code());
                }
            }
        }
        if seen.len() == LimitCategory::ALL.len() + LimitCertificateClass::ALL.len() {
            break;
        }
    }
    for c in LimitCategory::ALL {
        assert!(seen.contains(c.code()), "{}", c.code());
    }
    assert!(seen.contains("03"));
    // Consent flag 0: no ConsTime, no block.
    let mut s = service();
    let key = s.population.example_with(Feature::LimitCertificate);
    let ins = insurer_text(key.insurer_number);
    let extra =
        "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>";
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("0"), extra);
        ask(&mut s, &q)
    };
    let text = String::from_utf8(b).unwrap();
    assert!(text.contains("<LimitApplicationCertificateRelatedConsFlg>0<"));
    assert!(!text.contains("LimitApplicationCertificateRelatedConsTime"));
    assert!(single(&r).results[0].limit.is_none());
}

#[test]
fn interface_3_contribution_ratio_only_for_late_elderly() {
    let pop = population();
    let mut late = 0;
    for h in 0..2_000 {
        for i in 0..4 {
            let Some(k) = pop.key_of(h, i) else { break };
            for r in pop.lookup(&k, pop.config().epoch).records {
                let q = r.qualification;
                let is_39 = q.insurer_number.law() == Some(39);
                assert_eq!(q.contribution_ratio.is_some(), is_39);
                if is_39 {
                    late += 1;
                    assert!(pop.config().epoch.years_since(q.birthdate).unwrap() >= 75);
                    assert!([10, 20, 30].contains(&q.contribution_ratio.unwrap()));
                }
            }
        }
    }
    assert!(late > 0);
}

#[test]
fn interface_3_notes_on_normal_answers_card_certificate_expiring() {
    let s = service();
    let holder = VerifiedCardHolder::from(s.population.example(QualificationValidity::Valid));
    let t = now(&s);
    for (days, noted) in [(30, true), (80, true), (100, false), (-1, false)] {
        let consents = ReaderConsents {
            card_certificate_expiry: Some(t.date() + chrono::Duration::days(days)),
            ..ReaderConsents::default()
        };
        let r = s.card(&holder, consents, t);
        let a = single(&r);
        assert_eq!(a.processing_result_status, ProcessingResultStatus::Ok);
        assert_eq!(a.processing_result_code.is_some(), noted, "{days}");
        assert_eq!(a.processing_result_message.is_some(), noted, "{days}");
        assert_eq!(parse_response(&r.render()).unwrap(), r);
    }
}

#[test]
fn interface_3_medical_aid_block() {
    let mut s = service();
    let key = s
        .population
        .example_with(Feature::CardClass(InsuredCardClass::MedicalAid));
    assert!(key.symbol.is_none());
    let ins = insurer_text(key.insurer_number);
    let (b, r) = {
        let q = single_text(&s, &key, &ins, Some("0"), "");
        ask(&mut s, &q)
    };
    let q = &single(&r).results[0];
    let m = q.medical_aid.as_ref().unwrap();
    assert!(m.public_expense_number.starts_with("12"));
    assert!(!m.welfare_office_name.is_empty());
    assert_eq!(m.tickets.len(), 1);
    let text = String::from_utf8(b).unwrap();
    for n in [
        "<PublicExpenseNumber>",
        "<BeneficiaryNumber>",
        "<WelfareOfficeName>",
        "<PublicExpenseResultList>",
        "<MedicalTicketInfo>",
        "<MedicalTicketValidDate>",
        "<InsuredCardClassification>A1</InsuredCardClassification>",
    ] {
        assert!(text.contains(n), "{n}");
    }
}

// ---------------------------------------------------------------------------------
// §4 Bulk.

fn bulk(s: &mut Service, n: u64) -> (String, Response, Response) {
    let keys: Vec<String> = (0..n)
        .filter_map(|h| s.population.key_of(h, 0))
        .map(|k| {
            let mut info = k.to_search_info();
            info.arbitrary_identifier = Some(format!("p{}", k.number));
            let r = fakes::eligibility::xml::Request {
                header: fakes::eligibility::xml::RequestHeader {
                    qualification_confirmation_date: Some(s.population.config().epoch),
                    medical_institution_code: INSTITUTION.parse().unwrap(),
                    arbitrary_file_identifier: None,
                    character_code_identifier: None,
                },
                body: fakes::eligibility::xml::RequestBody::Single(info),
            };
            let t = String::from_utf8(r.render(CharacterCode::Utf8)).unwrap();
            let a = t.find("<QualificationConfirmSearchInfo>").unwrap();
            let b = t.find("</QualificationConfirmSearchInfo>").unwrap();
            t[a..b + "</QualificationConfirmSearchInfo>".len()].to_string()
        })
        .collect();
    let up = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?><XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>bulk-7</ArbitraryFileIdentifier>\
         <CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader><MessageBody>{}\
         </MessageBody></XmlMsg>",
        s.population.config().epoch.format("%Y%m%d"),
        keys.concat()
    );
    let t = now(s);
    let upr = s.handle(Some(MessageKind::BulkUpload), up.as_bytes(), t);
    let ResponseBody::BulkAccepted {
        reception_number, ..
    } = &upr.body
    else {
        panic!("{upr:?}")
    };
    let number = reception_number.clone();
    let down = format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         <CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader>\
         <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
    );
    let downr = s.handle(
        Some(MessageKind::BulkDownload),
        down.as_bytes(),
        t.plus_minutes(60),
    );
    (number, upr, downr)
}

#[test]
fn interface_4_upload_answer_carries_reception_number_and_date_time() {
    let mut s = service();
    let (number, up, _) = bulk(&mut s, 5);
    let text = String::from_utf8(up.render()).unwrap();
    let t = tree::parse(&text, TreeLimits::default()).unwrap();
    let body = t.root().req_child("MessageBody").unwrap();
    assert_eq!(body.req_text("ReceptionNumber").unwrap(), number);
    let dt = body.req_text("ReceptionDateTime").unwrap();
    assert_eq!(dt.len(), 14);
    assert_eq!(
        dt,
        up.header
            .process_execution_time
            .format("%Y%m%d%H%M%S")
            .to_string()
    );
}

#[test]
fn interface_4_download_answer_layout() {
    let mut s = service();
    let (number, _, down) = bulk(&mut s, 12);
    let text = String::from_utf8(down.render()).unwrap();
    assert_eq!(parse_response(text.as_bytes()).unwrap(), down);
    let t = tree::parse(&text, TreeLimits::default()).unwrap();
    let h = t.root().req_child("MessageHeader").unwrap();
    assert_eq!(h.req_text("ReceptionNumber").unwrap(), number);
    let units: Vec<_> = t
        .root()
        .req_child("MessageBody")
        .unwrap()
        .all("BulkConfirmUnit")
        .collect();
    let n = units.len();
    assert!(n >= 10);
    assert_eq!(
        h.req_text("NumberOfProcessingResult").unwrap(),
        n.to_string()
    );
    assert_eq!(
        h.req_text("NumberOfNormalProcessing").unwrap(),
        n.to_string()
    );
    assert_eq!(h.req_text("NumberOfError").unwrap(), "0");
    assert!(h.child("ReferenceClassification").unwrap().is_none());
    for u in units {
        let info = u.req_child("QualificationConfirmSearchInfo").unwrap();
        let id = info.req_text("ArbitraryIdentifier").unwrap();
        assert_eq!(u.req_text("ProcessingResultStatus").unwrap(), "1");
        assert!(u.req_text("QualificationValidity").is_ok());
        let r = u.req_child("ResultOfQualificationConfirmation").unwrap();
        assert_eq!(
            format!("p{}", r.req_text("InsuredIdentificationNumber").unwrap()),
            id,
            "each unit is its own person"
        );
        assert!(r.req_text("InsurerName").is_ok());
    }
}

#[test]
fn interface_4_failed_bulk_requests_get_an_err_file() {
    let mut t = Terminal::new(service());
    let at = VirtualTime::at(NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(), 9, 0);
    let down = format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         </MessageHeader><MessageBody><ReceptionNumber>nope-1</ReceptionNumber></MessageBody></XmlMsg>"
    );
    let out = t.handle_file("OQSmuquc02req_a.xml", down.as_bytes(), at);
    assert_eq!(out.name, "OQSmuquc02res_a.xml");
    let err = out.err.expect("a .err file for a failed bulk download");
    assert_eq!(err.name, "OQSmuquc02req_a.err");
    let r = parse_response(&err.bytes).unwrap();
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Abnormal);
    // The client matches the error by the echoed ReceptionNumber.
    assert!(
        String::from_utf8_lossy(&out.bytes).contains("<ReceptionNumber>nope-1</ReceptionNumber>")
    );
    let out = t.handle_file("OQSmuquc01req_b.xml", b"<XmlMsg/>", at);
    assert_eq!(out.err.unwrap().name, "OQSmuquc01req_b.err");
    // Single inquiries never get one.
    let out = t.handle_file("OQSsiquc01req_c.xml", b"<XmlMsg/>", at);
    assert!(out.err.is_none());
}
