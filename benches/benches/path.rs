//! The eligibility path stage by stage, and whole (`cargo bench -p onsim-benches
//! --bench path`). Every group reports throughput (`Throughput::Elements`), and where a
//! stage has an obvious floor a baseline runs in the same group:
//!
//! - `card`: one APDU exchange (SELECT) as the floor, PIN VERIFY, and the RSA-2048
//!   signature `80 2A` (PKCS#1 v1.5 over a SHA-256 DigestInfo) on the virtual card;
//! - `pki`: a terminal certificate through chain + CRL + validity + binding
//!   (`fakes::pki::Verifier`), with parsing the DER alone as the floor;
//! - `whole`: one single inquiry in process (parse → lookup → render), and the same over
//!   mutual TLS on loopback through the live eligibility API, with a new connection per
//!   request (full handshake, as a terminal without resumption would) and on one
//!   kept-alive connection.
//!
//! In test mode (`cargo test --benches`, as CI runs it) each routine runs once.

use std::sync::Arc;

use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use fakes::card::{CardProfile, CardSetup, VirtualCard};
use fakes::codes::InstitutionCode;
use fakes::eligibility::xml::MessageKind;
use fakes::eligibility::{AnswerConfig, Population, PopulationConfig, Service};
use fakes::pki::{Authority, CertSpec, Purpose, Verifier};
use fakes::time::VirtualTime;

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];
const SELECT_PIN: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18];
const SELECT_KEY: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17];
const VERIFY_1234: [u8; 9] = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn sign_apdu() -> Vec<u8> {
    // DigestInfo for SHA-256 with a fixed 32-byte digest.
    let mut di = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    di.extend_from_slice(&[0x5a; 32]);
    let mut apdu = vec![0x80, 0x2A, 0x00, 0x80, di.len() as u8];
    apdu.extend_from_slice(&di);
    apdu.push(0x00);
    apdu
}

fn card_stages(c: &mut Criterion) {
    let (_, profile) =
        CardProfile::demo(1, &CardSetup::new("bench", d("2024-01-01"))).expect("card");
    let mut card = VirtualCard::new(Arc::new(profile));
    card.power_on();
    let mut g = c.benchmark_group("card");
    g.throughput(Throughput::Elements(1));
    g.bench_function("apdu_select_floor", |b| {
        b.iter(|| black_box(card.transmit(&SELECT_JPKI)))
    });
    card.transmit(&SELECT_JPKI);
    card.transmit(&SELECT_PIN);
    g.bench_function("pin_verify", |b| {
        b.iter(|| black_box(card.transmit(&VERIFY_1234)))
    });
    card.transmit(&SELECT_KEY);
    let apdu = sign_apdu();
    g.bench_function("rsa2048_sign", |b| {
        b.iter(|| {
            let r = card.transmit(&apdu);
            assert_eq!(r.len(), 258, "signature + SW");
            black_box(r)
        })
    });
    g.finish();
}

fn pki_stages(c: &mut Criterion) {
    let ca = Authority::implementing_body(1, 1, d("2020-01-01"), d("2040-01-01")).expect("CA");
    let inst: InstitutionCode = "1310101017".parse().expect("code");
    let cert = ca
        .issue(&CertSpec::client(&inst, "t1", d("2024-01-01")))
        .expect("cert");
    let crl = ca.crl(d("2025-01-01"), 365, &[]).expect("crl");
    let verifier = Verifier::new().trust(ca.cert_der()).with_crl(&crl);
    let now = d("2025-04-01").and_hms_opt(10, 0, 0).expect("time");
    let purpose = Purpose::Client(inst);
    assert!(verifier.verify(&cert.der, &purpose, now).is_ok());
    let mut g = c.benchmark_group("pki");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_der_floor", |b| {
        b.iter(|| black_box(fakes::pki::institution_of_der(&cert.der)))
    });
    g.bench_function("chain_crl_validity_binding", |b| {
        b.iter(|| black_box(verifier.verify(&cert.der, &purpose, now).is_ok()))
    });
    g.finish();
}

fn whole_path(c: &mut Criterion) {
    use sim::live::{self, LiveConfig};
    let start = d("2025-04-01");
    let pop = Population::new(PopulationConfig::default());
    let inst: InstitutionCode = "1310101017".parse().expect("code");
    let keys = sim::load::keys_in_process(&pop, 64);
    let bodies = sim::load::bodies(&keys, start, inst);
    let now = VirtualTime::at(start, 10, 0);
    let mut service = Service::new(pop, inst, AnswerConfig::default());
    let mut g = c.benchmark_group("whole");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("in_process", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            black_box(
                service
                    .handle(Some(MessageKind::Single), &bodies[i], now)
                    .render(),
            )
        })
    });

    // The live eligibility API over mutual TLS on loopback.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let running = rt
        .block_on(live::start(&LiveConfig {
            start,
            speed: 0.0,
            seed: 1,
            rules: fakes::schedule::RuleSet::R2024,
            designation: d("2025-07-01"),
            port_base: 0,
            households: 2000,
            terminal_dir: None,
            terminal_timeout: std::time::Duration::from_secs(10),
            institution: live::clinic_institution(),
        }))
        .expect("live services start");
    let url = format!("https://{}/eligibility", running.addrs.eligibility);
    let tls = live::centre::terminal_client_config(&running.app.pki).expect("client TLS");
    let backend = live::centre::HttpBackend::new(&url, None, Some(tls)).expect("backend");
    let live_inst = running.app.pki.institution;
    let live_bodies = sim::load::bodies(&keys_for(&running), start, live_inst);
    let mut j = 0usize;
    g.bench_function("mutual_tls_new_connection", |b| {
        b.iter(|| {
            j = (j + 1) % live_bodies.len();
            let answer = backend
                .post(MessageKind::Single, &live_bodies[j])
                .expect("answered");
            black_box(answer)
        })
    });
    // The same over one kept-alive connection: the request path without the handshake.
    let mut sender = rt.block_on(keep_alive_connection(&running));
    let mut k = 0usize;
    g.bench_function("mutual_tls_keep_alive", |b| {
        b.iter(|| {
            k = (k + 1) % live_bodies.len();
            black_box(rt.block_on(post(&mut sender, live_bodies[k].clone())))
        })
    });
    g.finish();
    drop(sender);
    drop(running);
    drop(rt);
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>;

/// A terminal's kept-alive mutual-TLS connection to the live eligibility API.
async fn keep_alive_connection(running: &sim::live::Running) -> Sender {
    let cfg = sim::live::centre::terminal_client_config(&running.app.pki).expect("client TLS");
    let tcp = tokio::net::TcpStream::connect(running.addrs.eligibility)
        .await
        .expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("HTTP/1.1");
    tokio::spawn(conn);
    sender
}

async fn post(sender: &mut Sender, body: hyper::body::Bytes) -> usize {
    use http_body_util::BodyExt;
    sender.ready().await.expect("connection open");
    let req = hyper::Request::post("/eligibility")
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/xml")
        .body(http_body_util::Full::new(body))
        .expect("request");
    let resp = sender.send_request(req).await.expect("answered");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .len()
}

fn keys_for(running: &sim::live::Running) -> Vec<fakes::eligibility::SearchKey> {
    sim::load::keys_in_process(running.app.desk.population(), 64)
}

criterion_group! {
    name = path;
    config = Criterion::default().sample_size(20);
    targets = card_stages, pki_stages, whole_path
}
criterion_main!(path);
