//! Messages an actor does not take are never dropped silently: a misrouted send and
//! an input an actor has no handling for both become `message-refused` trace events,
//! and no scenario in `scenarios/` produces one (docs/ARCHITECTURE.md, typed inputs).

use std::path::PathBuf;

use fakes::process::{Actor, ActorId, CheckPurpose, EventKind, Msg, Outbox, Prerequisite, Step};
use fakes::time::VirtualTime;
use sim::runner::{self, Detail, Parties};
use sim::{invariants, scenario};

fn scenarios() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::discover(&[root]).expect("scenarios/ is readable")
}

#[test]
fn no_scenario_refuses_a_message_or_breaks_an_invariant() {
    let files = scenarios();
    assert!(files.len() >= 79, "found {} scenarios", files.len());
    for f in files {
        let s = scenario::load(&f).expect("every shipped scenario loads");
        let r = runner::run(&s, Detail::Full);
        let refused: Vec<_> = r
            .timeline
            .iter()
            .filter(|e| e.kind == EventKind::MessageRefused)
            .collect();
        assert!(refused.is_empty(), "{}: {refused:?}", f.display());
        assert_eq!(
            invariants::check(&r.timeline),
            Vec::<String>::new(),
            "{}",
            f.display()
        );
    }
}

/// One input of every kind; each actor must take some and refuse the rest, visibly.
fn every_message() -> Vec<Msg> {
    vec![
        Msg::Step(Step::GoLive),
        Msg::CorrectionRequest,
        Msg::NotDesignated,
        Msg::CouncilDecision,
        Msg::CodesSent,
        Msg::TemporaryCodeRequest,
        Msg::ReaderApplication,
        Msg::UsageApplication,
        Msg::LimitedTypeApproved,
        Msg::LineOrder,
        Msg::LineReady,
        Msg::LineRejected,
        Msg::PrerequisiteReady(Prerequisite::Reader),
        Msg::InstallationDay,
        Msg::InstallationDone,
        Msg::InstallationPostponed,
        Msg::ReaderOrder { replacement: false },
        Msg::ConnectivityCheck {
            purpose: CheckPurpose::Installation,
        },
    ]
}

#[test]
fn a_misrouted_send_is_a_refusal_not_a_delivery() {
    let at = VirtualTime::start_of("2025-04-01".parse().unwrap());
    for msg in every_message() {
        for to in ActorId::ALL {
            let mut out = Outbox::new(true);
            out.send(at, ActorId::Clinic, to, msg.clone());
            let takes = msg.addressees().contains(&to);
            assert_eq!(out.sends.len(), usize::from(takes), "{msg:?} to {to:?}");
            let refusals = out
                .events
                .iter()
                .filter(|e| e.kind == EventKind::MessageRefused)
                .count();
            assert_eq!(refusals, usize::from(!takes), "{msg:?} to {to:?}");
        }
    }
}

#[test]
fn an_actor_given_a_message_it_does_not_take_records_a_refusal() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/happy/r2024-medical-tokyo.toml");
    let s = scenario::load(&f).unwrap();
    let p = runner::prepare(&s).unwrap();
    let at = VirtualTime::start_of("2025-04-01".parse().unwrap());
    for msg in every_message() {
        let Parties {
            mut bureau,
            implementing_body: mut ib,
            reader_vendor: mut vendor,
            mut carrier,
            system_vendor: mut sv,
        } = Parties::build(p.party_setup(), 1);
        let actors: [&mut dyn Actor; 5] =
            [&mut bureau, &mut ib, &mut vendor, &mut carrier, &mut sv];
        for actor in actors {
            if msg.addressees().contains(&actor.id()) {
                continue;
            }
            let mut out = Outbox::new(true);
            actor.handle(at, ActorId::Clinic, msg.clone(), &mut out);
            assert!(out.sends.is_empty(), "{:?} acted on {msg:?}", actor.id());
            assert!(
                out.events
                    .iter()
                    .any(|e| e.kind == EventKind::MessageRefused),
                "{:?} dropped {msg:?} silently",
                actor.id()
            );
        }
    }
}
