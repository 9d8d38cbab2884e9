//! The 2021 rules (docs/DOMAIN.md §5): 保連発0120第1号・保医発0120第1号 (2021-01-20)
//! and the 2021-01-21 事務連絡 (docs/seeds/). A temporary code (仮コード) opens the
//! portal account first; the reception-number request travels with the designation
//! application; the bureau answers by the 10th of M−1; the implementing body supplies
//! the face-auth reader free of charge.

use chrono::{Datelike, NaiveDate};

use super::rules::{month_name, month_start_before, Milestones, RuleDates, Rules};
use super::{Actor, MilestoneId, ScheduleError, Source};
use crate::calendar::{BusinessCalendar, CalendarError};

/// The 2021 rule set.
pub struct R2021;

impl Rules for R2021 {
    fn id(&self) -> &'static str {
        "r2021"
    }

    /// Requests under the new procedure from February 2021, so the first designation
    /// served is 1 March 2021.
    fn first_designation(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 3, 1).expect("valid")
    }

    /// 000 1: "令和3年2月以降に提出される保険医療機関等指定申請" follow the new procedure.
    fn procedure_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 2, 1).expect("valid")
    }

    /// The answer comes by the 10th of M−1 (r2021 1(2)).
    fn answer_lead_months(&self) -> u32 {
        1
    }

    /// r2021 別紙3 ①: a temporary code (仮コード) before the reception number.
    fn has_temporary_code(&self) -> bool {
        true
    }

    /// r2021 1(1): the request goes with the designation application.
    fn request_travels_with_application(&self) -> bool {
        true
    }

    /// r2021 別紙3 ③ and 5: the implementing body supplies the free reader and ships it
    /// once the reception number was shown.
    fn implementing_body_supplies_reader(&self) -> bool {
        true
    }

    /// Seed 000 asks for no onboarding plan (導入計画書 came with 001 第2, 2024-03).
    fn has_onboarding_plan(&self) -> bool {
        false
    }

    /// Before April 2024 a new clinic could still be allowed paper claims (001 ※3
    /// dates the end of that to 令和6年4月).
    fn new_paper_claims_clinics(&self) -> bool {
        true
    }

    /// The 経過措置 届出 with the designation application is 001's (2024-02 onwards);
    /// seed 000 has no such step.
    fn has_transitional_notice(&self) -> bool {
        false
    }

    /// r2021 2: when not designated, the bureau deletes the record.
    fn not_designated_deletes_record(&self) -> bool {
        true
    }

    /// Replaced by r2024 for designations from 1 April 2024 (seed 001).
    fn superseded(&self) -> Option<(NaiveDate, &'static str)> {
        Some((super::r2024::R2024.first_designation(), "r2024"))
    }

    fn not_designated_text(&self) -> &'static str {
        "not designated: the bureau deletes the record (r2021 2)"
    }

    fn answer_text(&self) -> &'static str {
        "r2021 1(2): answer sent by the 10th of M−1 (next open day if closed)"
    }

    /// *(our choice)* 5 business days after the 15th of M−1, when the certificate
    /// application is due.
    fn default_installation(
        &self,
        cal: &BusinessCalendar,
        designation: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        let m1 = month_start_before(designation, 1);
        let fifteenth = NaiveDate::from_ymd_opt(m1.year(), m1.month(), 15).expect("15th exists");
        cal.add_business_days(fifteenth, 5)
    }

    fn milestones(
        &self,
        cal: &BusinessCalendar,
        d: &RuleDates,
    ) -> Result<Milestones, ScheduleError> {
        let mut out = Milestones::new();
        let mut push =
            |id, date, source, rule: String, actor| out.push(id, date, source, rule, actor);
        let m5 = month_start_before(d.designation, 5);
        push(
                MilestoneId::TemporaryCodeRequest,
                m5,
                Source::Rule,
                "r2021 別紙3 ①: request a temporary code (仮コード) and open the portal account about 5 months before the start of care (1st of M−5)".into(),
                Actor::Clinic,
            );
        push(
                MilestoneId::ReaderApplication,
                m5,
                Source::Rule,
                "r2021 別紙3 ③: apply for the free face-auth reader about 5 months before (it ships 4–5 months after the application)".into(),
                Actor::Clinic,
            );
        push(
                MilestoneId::ReceptionRequestDeadline,
                d.request_deadline,
                Source::Rule,
                format!("r2021 1(1): designation application and reception-number request together by the deadline {} sets; default: last open day of M−2{}; later requests are returned (返戻)", d.bureau_txt, d.shift_txt),
                Actor::Bureau,
            );
        push(
                MilestoneId::BureauAnswerDispatch,
                d.answer,
                d.answer_src,
                match d.answer_src {
                    Source::Rule => format!("r2021 1(2): the bureau sends the answer by the 10th of {} (next open day if closed)", month_name(d.lead)),
                    Source::Published => "the published table given with --published (e.g. 別紙2, the national schedule)".into(),
                },
                Actor::Bureau,
            );
        push(
                MilestoneId::ImplementingBodyDeadline,
                d.implementing_body_deadline,
                d.implementing_body_src,
                match d.implementing_body_src {
                    Source::Rule => format!("r2021 3(2): reception number (and usage/certificate applications) at the implementing body by the 15th of {} (next open day if closed)", month_name(d.lead)),
                    Source::Published => "the published table given with --published (e.g. 別紙2, the national schedule)".into(),
                },
                Actor::ImplementingBody,
            );
        push(
                MilestoneId::UsageApplicationDeadline,
                d.implementing_body_deadline,
                d.implementing_body_src,
                "r2021 別紙3 ⑥: usage application with the reception number by the 15th (next open day if closed)".into(),
                Actor::Clinic,
            );
        push(
                MilestoneId::CertificateApplicationDeadline,
                d.implementing_body_deadline,
                d.implementing_body_src,
                "r2021 別紙3 ⑥: certificate application (電子証明書発行申請) by the 15th (next open day if closed)".into(),
                Actor::Clinic,
            );
        push(
                MilestoneId::ReaderShipment,
                cal.next_open(d.implementing_body_deadline)?,
                Source::Rule,
                "r2021 別紙3 5: the reader ships once the reception number was shown (\"…提示…こちらをもって…発送\"); (our choice) shown by the 15th, it ships by the next open day at the latest".into(),
                Actor::ImplementingBody,
            );
        push(
                MilestoneId::PortalAccountReady,
                d.implementing_body_deadline,
                d.implementing_body_src,
                "r2021 別紙3 ②⑥: the account exists from the 仮コード (②); the reception number shown by the 15th replaces the code in it on receipt (入替, 別紙1)".into(),
                Actor::ImplementingBody,
            );
        push(
            MilestoneId::SystemInstallation,
            d.installation,
            Source::Rule,
            if d.installation_planned {
                "the clinic's planned installation date".into()
            } else {
                "(our choice) recommended installation: 5 business days after the 15th of M−1"
                    .into()
            },
            Actor::SystemVendor,
        );

        Ok(out)
    }
}
