//! The 2024 revision (docs/DOMAIN.md §5): 保連発1226第1号・保医発1226第8号
//! (2023-12-26) and its guide (docs/seeds/). The reception number comes first and is
//! answered by the 10th of M−2; the clinic orders its own reader, line and system; the
//! designation application carries the onboarding plan (導入計画書).

use chrono::{Datelike, NaiveDate};

use super::rules::{month_name, month_start_before, Milestones, RuleDates, Rules};
use super::{Actor, MilestoneId, ScheduleError, Source};
use crate::calendar::{BusinessCalendar, CalendarError};

/// The 2024 rule set.
pub struct R2024;

impl Rules for R2024 {
    fn id(&self) -> &'static str {
        "r2024"
    }

    /// Reception numbers under the revision from February 2024, answered by the 10th
    /// of M−2, so the first designation served is 1 April 2024.
    fn first_designation(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).expect("valid")
    }

    /// 001: "第1については令和6年2月から" (requests under the revision from February 2024).
    fn procedure_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 2, 1).expect("valid")
    }

    /// The answer comes by the 10th of M−2 (r2024 1(2)).
    fn answer_lead_months(&self) -> u32 {
        2
    }

    /// The limited type (資格確認限定型) from June 2024 (docs/DOMAIN.md, limited type).
    fn limited_type_from(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2024, 6, 1)
    }

    fn not_designated_text(&self) -> &'static str {
        "not designated: status 8. 未指定 (r2024)"
    }

    fn answer_text(&self) -> &'static str {
        "r2024 1(2): answer sent by the 10th of M−2 (next open day if closed)"
    }

    /// *(our choice)* the 15th of M−1 or the next open day, which leaves room for the
    /// certificate application (≥5 business days before) after the portal account
    /// opens in M−2, and two weeks of slack before designation.
    fn default_installation(
        &self,
        cal: &BusinessCalendar,
        designation: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        let m1 = month_start_before(designation, 1);
        cal.nth_or_next_open(m1.year(), m1.month(), 15)
    }

    fn milestones(
        &self,
        cal: &BusinessCalendar,
        d: &RuleDates,
    ) -> Result<Milestones, ScheduleError> {
        let mut out = Milestones::new();
        let mut push =
            |id, date, source, rule: String, actor| out.push(id, date, source, rule, actor);
        let m3 = month_start_before(d.designation, 3);
        push(
                MilestoneId::ReaderOrder,
                m3,
                Source::Rule,
                "r2024 guide ①: choose and order the face-auth reader by about 3 months before designation (lead time 3–4 months)".into(),
                Actor::Clinic,
            );
        push(
            MilestoneId::NetworkOrder,
            m3,
            Source::Rule,
            "r2024 guide ② \"「顔認証付きカードリーダー発注」と同時に行う\": order a connectable network line together with the reader".into(),
            Actor::Clinic,
        );
        push(
            MilestoneId::SystemVendorOrder,
            m3,
            Source::Rule,
            "r2024 guide ③④ \"システム導入等の依頼と同時\" (with the new clinic's receipt-computer system order); (our choice) dated with the reader order, 3 months before".into(),
            Actor::Clinic,
        );
        if d.paper_claims {
            push(
                    MilestoneId::ReceptionRequestDeadline,
                    d.request_deadline,
                    Source::Rule,
                    format!("r2024 1(1): paper-claims clinics are exempt from online confirmation but still need a reception number for the portal; deadline set by {}, default: last open day of M−3{}", d.bureau_txt, d.shift_txt),
                    Actor::Bureau,
                );
        } else {
            push(
                    MilestoneId::ReceptionRequestDeadline,
                    d.request_deadline,
                    Source::Rule,
                    format!("r2024 1(1): reception-number request, before the designation application, by the deadline {} sets (about 2 months before designation); default: last open day of M−3{}", d.bureau_txt, d.shift_txt),
                    Actor::Bureau,
                );
        }
        push(
                MilestoneId::BureauAnswerDispatch,
                d.answer,
                d.answer_src,
                match d.answer_src {
                    Source::Rule => format!("r2024 1(2): the bureau sends the answer by the 10th of {} (next open day if closed)", month_name(d.lead)),
                    Source::Published => "the published table given with --published".into(),
                },
                Actor::Bureau,
            );
        push(
                MilestoneId::ImplementingBodyDeadline,
                d.implementing_body_deadline,
                d.implementing_body_src,
                match d.implementing_body_src {
                    Source::Rule => format!(
                        "r2024 3(2): reception number at the implementing body by the 15th of {} (next open day if closed)",
                        month_name(d.lead)
                    ),
                    Source::Published => "the published table given with --published".into(),
                },
                Actor::ImplementingBody,
            );
        push(
                MilestoneId::PortalAccountReady,
                d.portal,
                Source::Rule,
                "r2024 guide ⑦ ※1: account registration about 4 business days after the reception number reaches the implementing body".into(),
                Actor::ImplementingBody,
            );
        push(
            MilestoneId::UsageApplicationDeadline,
            d.cert_deadline,
            Source::Rule,
            "r2024 guide ⑧: usage application 5 business days before the system installation"
                .into(),
            Actor::Clinic,
        );
        push(
                MilestoneId::CertificateApplicationDeadline,
                d.cert_deadline,
                Source::Rule,
                "r2024 guide ⑧: certificate application 5 business days before the system installation; the notice comes by registered mail".into(),
                Actor::Clinic,
            );
        push(
            MilestoneId::SystemInstallation,
            d.installation,
            Source::Rule,
            if d.installation_planned {
                "the clinic's planned installation date".into()
            } else {
                "(our choice) recommended installation: 15th of M−1 or the next open day".into()
            },
            Actor::SystemVendor,
        );
        push(
                MilestoneId::DesignationApplicationDeadline,
                cal.open_on_or_before(month_start_before(d.designation, 1))?,
                Source::Rule,
                "r2024 guide ⑨: designation application with the onboarding plan (導入計画書) by about one month before opening (last open day on or before the 1st of M−1)".into(),
                Actor::Bureau,
            );

        Ok(out)
    }
}
