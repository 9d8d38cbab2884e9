//! The eligibility API over mutual TLS (XmlMsg; the card confirmation routes): the
//! measured path, on bare hyper.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::error::{body_bytes, body_json, err, json_resp, unavailable};
use super::{
    health, Resp, BULK_AT_ONCE, BULK_XML_BODY, HANDSHAKE_TIMEOUT, MAX_TLS_CONNECTIONS,
    SINGLE_XML_BODY,
};
use crate::live::eligibility::{bound_institution, kind_of_path, DeskAnswer};
use crate::live::App;

static BULK_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BULK_AT_ONCE);

fn xml_resp(bytes: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    r
}

async fn eligibility(
    app: Arc<App>,
    bound: Option<fakes::codes::InstitutionCode>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    let path = req.uri().path();
    if req.method() == Method::GET && path.trim_end_matches('/') == "/health" {
        // Over mutual TLS like every route here: a refused credential never gets it.
        return health("eligibility");
    }
    // The clinic the certificate is bound to (issue 17 item 2): its scenario's
    // implementing-body faults apply.
    let clinic = match bound {
        Some(code) => app.clinic_by_code(code),
        None => app.first(),
    };
    if let Some(down) = clinic.world.implementing_body_down_now() {
        tracing::warn!(%peer, reason = %down, "eligibility request refused: the implementing body is down");
        return unavailable(&down);
    }
    if path.trim_end_matches('/').starts_with("/eligibility/card") {
        // Boxed: its state is much larger than the XmlMsg path's, and every request's
        // future would otherwise carry (and move) it.
        return Box::pin(card_confirmation(app, bound, peer, req)).await;
    }
    let Some(kind) = kind_of_path(path) else {
        return err(StatusCode::NOT_FOUND, None, format!("no route {path}; POST /eligibility (OQSsiquc01), /eligibility/OQSmuquc01 or /eligibility/OQSmuquc02"));
    };
    if req.method() != Method::POST {
        return err(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "POST the XmlMsg request",
        );
    }
    let Some(bound) = bound else {
        tracing::warn!(%peer, refusal = "no-institution", "eligibility request refused: the client certificate names no institution code");
        return err(
            StatusCode::FORBIDDEN,
            None,
            "the client certificate names no institution code",
        );
    };
    let (limit, _bulk_turn) = if kind == fakes::eligibility::xml::MessageKind::BulkUpload {
        (BULK_XML_BODY, BULK_PERMITS.acquire().await.ok())
    } else {
        (SINGLE_XML_BODY, None)
    };
    let bytes = match body_bytes(req, limit).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let now = app.clock.now();
    match app.desk.answer(bound, kind, &bytes, now) {
        DeskAnswer::Xml(x) => {
            tracing::info!(%peer, institution = %bound, kind = kind.id(), "eligibility answered");
            xml_resp(x)
        }
        DeskAnswer::Refused(r) => {
            tracing::warn!(%peer, refusal = r.code(), reason = %r, "eligibility request refused");
            json_resp(
                StatusCode::FORBIDDEN,
                &json!({"error": r.to_string(), "refusal": r.code(), "field": "MedicalInstitutionCode"}),
            )
        }
    }
}

/// `POST /eligibility/card/challenge` → `{"challenge": hex}`;
/// `POST /eligibility/card` with `{"challenge", "certificate", "signature"}` (hex) and
/// optional `"consents": {"limit_certificate", "pharmacists_info",
/// "specific_health_checkups"}` → the XmlMsg answer, or 403 with the refusal.
async fn card_confirmation(
    app: Arc<App>,
    bound: Option<fakes::codes::InstitutionCode>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    use crate::live::card::{from_hex, to_hex};
    if req.method() != Method::POST {
        return err(StatusCode::METHOD_NOT_ALLOWED, None, "use POST");
    }
    let Some(bound) = bound else {
        return err(
            StatusCode::FORBIDDEN,
            None,
            "the client certificate names no institution code",
        );
    };
    let path = req.uri().path().trim_end_matches('/').to_string();
    if path == "/eligibility/card/challenge" {
        return json_resp(
            StatusCode::OK,
            &json!({"challenge": to_hex(&app.cards.challenge(bound))}),
        );
    }
    if path != "/eligibility/card" {
        return err(
            StatusCode::NOT_FOUND,
            None,
            format!("no route {path}; POST /eligibility/card/challenge or /eligibility/card"),
        );
    }
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let hex_field = |name: &str| -> Result<Vec<u8>, Resp> {
        body.get(name)
            .and_then(Value::as_str)
            .and_then(from_hex)
            .ok_or_else(|| {
                err(
                    StatusCode::BAD_REQUEST,
                    Some(name),
                    format!("`{name}` must be a hex string"),
                )
            })
    };
    let id = match (
        hex_field("challenge"),
        hex_field("certificate"),
        hex_field("signature"),
    ) {
        (Ok(challenge), Ok(cert_der), Ok(signature)) => fakes::reader::SignedIdentity {
            cert_der,
            challenge,
            signature,
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let flag = |name: &str| {
        body.get("consents")
            .and_then(|c| c.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let consents = fakes::eligibility::ReaderConsents {
        limit_certificate: flag("limit_certificate"),
        pharmacists_info: flag("pharmacists_info"),
        specific_health_checkups: flag("specific_health_checkups"),
        ..Default::default()
    };
    let now = app.clock.now();
    match app.cards.confirm(&app.desk, bound, &id, consents, now) {
        Ok(xml) => {
            tracing::info!(%peer, institution = %bound, "card confirmation answered");
            xml_resp(xml)
        }
        Err(r) => {
            tracing::warn!(%peer, refusal = r.code(), reason = %r, "card confirmation refused");
            json_resp(
                StatusCode::FORBIDDEN,
                &json!({"error": r.to_string(), "refusal": r.code(), "field": null}),
            )
        }
    }
}

/// Judge the connection's client certificate again at the virtual instant of this
/// request (issue 14 #1: resumed sessions and kept-alive connections skip the
/// handshake's verifier). A refusal is a 403 naming the reason, with
/// `"field": "client_certificate"`; the terminal's client treats it as a refused
/// handshake (5001, [`crate::live::centre`]).
fn certificate_still_good(
    app: &App,
    peer_cert: Option<&crate::live::tls::PeerCertificate>,
    peer: SocketAddr,
) -> Result<(), Resp> {
    let refusal = match peer_cert {
        None => fakes::pki::Refusal::Malformed("no client certificate".into()),
        Some(c) => match app.client_verifier.recheck(c) {
            Ok(()) => return Ok(()),
            Err(r) => r,
        },
    };
    tracing::warn!(
        %peer,
        refusal = refusal.code(),
        reason = %refusal,
        virtual_now = %app.clock.now(),
        "client certificate refused on a request of an established or resumed session"
    );
    Err(json_resp(
        StatusCode::FORBIDDEN,
        &json!({"error": format!("client certificate refused: {refusal}"), "refusal": refusal.code(), "field": CLIENT_CERTIFICATE_FIELD}),
    ))
}

/// The `field` of a 403 that refuses the client certificate itself (not the
/// request's institution binding).
pub const CLIENT_CERTIFICATE_FIELD: &str = "client_certificate";

/// Serve the eligibility API over mutual TLS until `shutdown`.
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_TLS_CONNECTIONS));
    while let Some((stream, peer)) =
        crate::live::accept_until(&listener, &mut shutdown, "eligibility").await
    {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = MAX_TLS_CONNECTIONS, "eligibility: too many connections; closed");
            drop(stream);
            continue;
        };
        // No Nagle: the TLS 1.3 tickets and the answer go out as separate writes, and
        // Nagle + delayed ACK stalled each new connection ~40 ms (onsim load).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            use crate::live::eligibility::EligibilityStats as St;
            let stats = &app.desk.stats;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    St::bump(&stats.handshakes);
                    s
                }
                Ok(Err(e)) => {
                    St::bump(&stats.handshake_failures);
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    St::bump(&stats.handshake_failures);
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let peer_certs = tls.get_ref().1.peer_certificates();
            let bound = bound_institution(peer_certs);
            // The certificate this connection carries: from the full handshake, or
            // restored by rustls on a resumed session (which skipped the verifier).
            let peer_cert = Arc::new(
                peer_certs
                    .and_then(|c| c.first())
                    .map(|c| crate::live::tls::PeerCertificate::new(c.as_ref().to_vec())),
            );
            crate::live::connection::serve(tls, move |req| {
                let app = app.clone();
                let peer_cert = peer_cert.clone();
                async move {
                    St::bump(&app.desk.stats.requests);
                    let r = match certificate_still_good(&app, peer_cert.as_ref().as_ref(), peer) {
                        Ok(()) => eligibility(app.clone(), bound, peer, req).await,
                        Err(refused) => refused,
                    };
                    if r.status().is_success() {
                        St::bump(&app.desk.stats.answered);
                    } else {
                        St::bump(&app.desk.stats.refused);
                    }
                    r
                }
            })
            .await;
        });
    }
}
