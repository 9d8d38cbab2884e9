//! Throughput of the eligibility core (`fakes::eligibility`): parsing requests and
//! rendering responses (Shift_JIS and UTF-8), building the answer, population lookups
//! and the whole single-inquiry answer —
//! each next to a baseline measured in the same run:
//! - `decode-only`: Shift_JIS → UTF-8 of the same request bytes (the floor any parse
//!   pays), and `quick-xml-scan`: quick-xml events without building anything;
//! - `encode-only`: UTF-8 → Shift_JIS of a rendered response.
//!
//! Run (about a minute on a 2-core VM):
//!
//! ```text
//! cargo bench -p onsim-benches --bench eligibility -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Workload: requests for 256 different people of a 1,000,000-household population
//! (seed 1), cycled; `Throughput::Elements(1)` = one message.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fakes::eligibility::encoding;
use fakes::eligibility::xml::{
    parse_request, Limits, MessageKind, Request, RequestBody, RequestHeader,
};
use fakes::eligibility::{AnswerConfig, CharacterCode, Population, PopulationConfig, Service};
use fakes::time::VirtualTime;

const PEOPLE: u64 = 256;

fn setup() -> (Service, Vec<Vec<u8>>, VirtualTime) {
    let pop = Population::new(PopulationConfig::default());
    let institution = "1313120014".parse().unwrap();
    let date = pop.config().epoch;
    let requests = (0..PEOPLE)
        .map(|k| {
            let key = pop.key_of(k * 3_901, 0).unwrap();
            let mut info = key.to_search_info();
            info.limit_consent = Some(true);
            Request {
                header: RequestHeader {
                    qualification_confirmation_date: Some(date),
                    medical_institution_code: institution,
                    arbitrary_file_identifier: Some(format!("bench-{k}")),
                    character_code_identifier: None,
                },
                body: RequestBody::Single(info),
            }
            .render(CharacterCode::ShiftJis)
        })
        .collect();
    let service = Service::new(pop, institution, AnswerConfig::default());
    (service, requests, VirtualTime::at(date, 10, 0))
}

fn bench(c: &mut Criterion) {
    let (mut service, requests, now) = setup();
    let limits = Limits::default();
    let mut g = c.benchmark_group("eligibility");
    g.throughput(Throughput::Elements(1));

    let mut i = 0usize;
    g.bench_function("baseline/decode-only", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(encoding::decode(black_box(&requests[i])).unwrap());
        })
    });
    // The requests decoded once, for the stages that start from text.
    let texts: Vec<String> = requests
        .iter()
        .map(|r| encoding::decode(r).unwrap().0.into_owned())
        .collect();
    g.bench_function("baseline/quick-xml-scan", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            let mut r = quick_xml::Reader::from_str(&texts[i]);
            let mut n = 0usize;
            loop {
                match r.read_event().unwrap() {
                    quick_xml::events::Event::Eof => break,
                    _ => n += 1,
                }
            }
            black_box(n);
        })
    });
    g.bench_function("parse-tree-only", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(
                fakes::eligibility::tree::parse(&texts[i], Default::default())
                    .unwrap()
                    .root()
                    .children()
                    .count(),
            );
        })
    });
    g.bench_function("parse-request-sjis", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(
                parse_request(MessageKind::Single, black_box(&requests[i]), &limits).unwrap(),
            );
        })
    });
    let utf8_requests: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| {
            let mut req = parse_request(MessageKind::Single, r, &limits).unwrap();
            req.header.character_code_identifier = Some(CharacterCode::Utf8);
            req.render(CharacterCode::Utf8)
        })
        .collect();
    g.bench_function("parse-request-utf8", |b| {
        b.iter(|| {
            i = (i + 1) % utf8_requests.len();
            black_box(
                parse_request(MessageKind::Single, black_box(&utf8_requests[i]), &limits).unwrap(),
            );
        })
    });
    g.bench_function("build-response (lookup+answer, no render)", |b| {
        let parsed: Vec<_> = requests
            .iter()
            .map(|r| parse_request(MessageKind::Single, r, &limits).unwrap())
            .collect();
        b.iter(|| {
            i = (i + 1) % parsed.len();
            black_box(service.handle_request(black_box(&parsed[i]), now));
        })
    });
    g.bench_function("lookup", |b| {
        let keys: Vec<_> = (0..PEOPLE)
            .map(|k| service.population.key_of(k * 3_901, 0).unwrap())
            .collect();
        let date = service.population.config().epoch;
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(service.population.lookup(black_box(&keys[i]), date));
        })
    });
    let responses: Vec<_> = requests
        .iter()
        .map(|r| service.handle(Some(MessageKind::Single), r, now))
        .collect();
    g.bench_function("render-response-sjis", |b| {
        b.iter(|| {
            i = (i + 1) % responses.len();
            black_box(responses[i].render());
        })
    });
    g.bench_function("render-response-utf8", |b| {
        let mut utf8 = responses.clone();
        for r in &mut utf8 {
            r.header.character_code_identifier = CharacterCode::Utf8;
        }
        b.iter(|| {
            i = (i + 1) % utf8.len();
            black_box(utf8[i].render());
        })
    });
    g.bench_function("baseline/encode-only", |b| {
        let mut utf8 = responses.clone();
        for r in &mut utf8 {
            r.header.character_code_identifier = CharacterCode::Utf8;
        }
        let texts: Vec<String> = utf8
            .iter()
            .map(|r| String::from_utf8(r.render()).unwrap())
            .collect();
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(encoding::encode(&texts[i], CharacterCode::ShiftJis));
        })
    });
    g.bench_function("answer-single (parse+lookup+render)", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(
                service
                    .handle(Some(MessageKind::Single), black_box(&requests[i]), now)
                    .render(),
            );
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
