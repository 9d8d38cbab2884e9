//! What a rule set is: its dates and its capabilities, as one trait.
//!
//! Each rule set is one module (`r2021.rs`, `r2024.rs`) implementing [`Rules`]; the
//! [`RuleSet`](super::RuleSet) enum is the registry that names them in scenario files
//! and on the command line. Actors and validation ask the rule set what it allows
//! (`has_temporary_code`, `implementing_body_supplies_reader`, …) instead of comparing
//! rule-set names, so adding a rule set is one new module plus its registration
//! (docs/ARCHITECTURE.md, "Add a rule set").

use chrono::NaiveDate;

use super::{Actor, Milestone, MilestoneId, ScheduleError, Source};
use crate::calendar::{self, BusinessCalendar, CalendarError};

/// The dates every rule set shares, computed once by [`super::compute`] before the
/// rule set adds its own milestones.
#[derive(Debug, Clone)]
pub struct RuleDates {
    pub designation: NaiveDate,
    /// Months between the bureau's answer and designation.
    pub lead: u32,
    pub request_deadline: NaiveDate,
    pub answer: NaiveDate,
    pub answer_src: Source,
    /// The 15th of the answer month, or the next open day if it is closed.
    pub implementing_body_deadline: NaiveDate,
    pub implementing_body_src: Source,
    pub portal: NaiveDate,
    pub installation: NaiveDate,
    /// True when the installation date is the clinic's own plan, not the default.
    pub installation_planned: bool,
    pub cert_deadline: NaiveDate,
    /// The bureau, as the rule texts name it.
    pub bureau_txt: String,
    /// How the bureau's policy moved the request deadline, as a rule-text suffix.
    pub shift_txt: String,
    pub paper_claims: bool,
}

/// The milestones a rule set adds, in the order it adds them.
#[derive(Debug, Default)]
pub struct Milestones(pub Vec<Milestone>);

impl Milestones {
    pub fn new() -> Self {
        Milestones(Vec::new())
    }

    pub fn push(
        &mut self,
        id: MilestoneId,
        date: NaiveDate,
        source: Source,
        rule: String,
        actor: Actor,
    ) {
        self.0.push(Milestone {
            id,
            date,
            source,
            rule,
            actor,
        });
    }
}

impl IntoIterator for Milestones {
    type Item = Milestone;
    type IntoIter = std::vec::IntoIter<Milestone>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A rule set: the notices that govern onboarding, as dates and capabilities.
///
/// The capability methods default to the r2024 answer (the current rules); a rule set
/// overrides what differs. Each override says which seed clause it follows.
pub trait Rules: Sync {
    /// The name used in scenario files and on the command line.
    fn id(&self) -> &'static str;
    /// The first designation date the rule set covers.
    fn first_designation(&self) -> NaiveDate;
    /// Months between the bureau's answer (10th) and designation.
    fn answer_lead_months(&self) -> u32;
    /// The first day requests are filed under this rule set. In its first month the
    /// bureau's request deadline is never before it (see [`FIRST_MONTH_DEADLINE_LEAD`]).
    fn procedure_start(&self) -> NaiveDate;
    /// Whether a temporary code (仮コード) comes before the reception number.
    fn has_temporary_code(&self) -> bool {
        false
    }
    /// Whether the reception-number request travels with the designation application
    /// (otherwise the designation application is a later, separate step).
    fn request_travels_with_application(&self) -> bool {
        false
    }
    /// Whether the implementing body supplies the face-auth reader (otherwise the
    /// clinic orders it from a vendor).
    fn implementing_body_supplies_reader(&self) -> bool {
        false
    }
    /// The first designation from which the limited type (資格確認限定型) exists, if
    /// the rule set has it.
    fn limited_type_from(&self) -> Option<NaiveDate> {
        None
    }
    /// Whether the designation application carries an onboarding plan (導入計画書,
    /// 001 第2 and 別紙2). Seed 000 has no plan: there the designation application
    /// travels with the reception-number request and has nothing to correct.
    fn has_onboarding_plan(&self) -> bool {
        true
    }
    /// Whether a newly designated clinic may still claim on paper (紙レセプト), outside
    /// the mandate. 001 ※3: from April 2024 no new clinic is allowed paper claims; one
    /// with やむを得ない事情 files the 経過措置 届出 instead.
    fn new_paper_claims_clinics(&self) -> bool {
        false
    }
    /// Whether "not designated" deletes the bureau's record (otherwise it is a status).
    fn not_designated_deletes_record(&self) -> bool {
        false
    }
    /// The first designation day from which a clinic of this rule set is obliged to
    /// have online confirmation (原則義務化), if ever. Both rule sets: 2023-04-01,
    /// [`mandate_start`] (001 本文 "令和5年4月から…オンライン資格確認を導入することが
    /// 原則義務付けられた"). A rule set for a time without the mandate returns `None`.
    fn mandate_from(&self) -> Option<NaiveDate> {
        Some(mandate_start())
    }
    /// Whether the 経過措置 届出 with the designation application exists (001 1(1):
    /// "指定の申請の際に併せて経過措置の届出を行えば…"). The seeds describe it only
    /// for 001's procedure.
    fn has_transitional_notice(&self) -> bool {
        true
    }
    /// Where a clinic designated on `designation` stands towards the mandate.
    fn obligation(
        &self,
        designation: NaiveDate,
        paper_claims: bool,
        transitional_notice: bool,
    ) -> Obligation {
        match self.mandate_from() {
            Some(from) if designation >= from => {
                if paper_claims {
                    Obligation::ExemptPaperClaims
                } else if transitional_notice {
                    Obligation::Transitional
                } else {
                    Obligation::Obligated
                }
            }
            _ => Obligation::Voluntary,
        }
    }
    /// The first designation from which another rule set replaced this one, and its id.
    fn superseded(&self) -> Option<(NaiveDate, &'static str)> {
        None
    }
    /// The trace text for "not designated".
    fn not_designated_text(&self) -> &'static str;
    /// The trace text for the bureau's answer going out on its rule date.
    fn answer_text(&self) -> &'static str;
    /// The installation date the guide's plan implies when the clinic has none.
    fn default_installation(
        &self,
        cal: &BusinessCalendar,
        designation: NaiveDate,
    ) -> Result<NaiveDate, CalendarError>;
    /// The milestones this rule set adds to the shared ones (designation, codes sent).
    fn milestones(
        &self,
        cal: &BusinessCalendar,
        d: &RuleDates,
    ) -> Result<Milestones, ScheduleError>;
}

/// 001 本文 (別添1 and the 事務連絡): "保険医療機関及び保険薬局…については、令和5年4月から、
/// 保険医療機関及び保険医療養担当規則…等に基づき、オンライン資格確認を導入することが原則
/// 義務付けられた". The seeds give the month; the day is the 1st.
pub fn mandate_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 4, 1).expect("valid")
}

/// Where a clinic stands towards the April 2023 mandate on its designation day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obligation {
    /// Designated before the mandate: online confirmation from day 1 is what the clinic
    /// asks for (000 1 "診療開始月の月初からのオンライン資格確認の利用を希望するもの").
    Voluntary,
    /// Designated under the mandate: 001 第2 "保険医療機関等としての指定を受ける時点に
    /// おいて、原則としてオンライン資格確認を導入している必要がある".
    Obligated,
    /// 001 ※3 "紙レセプトによる請求が認められている保険医療機関等は、オンライン資格確認の
    /// 原則義務化の例外".
    ExemptPaperClaims,
    /// 001 1(1): "経過措置に該当するやむを得ない事情がある医療機関等" that filed the 届出.
    Transitional,
}

impl Obligation {
    /// The trace text.
    pub fn text(self) -> &'static str {
        match self {
            Obligation::Voluntary => "designated before the April 2023 mandate: online confirmation from day 1 is the clinic's wish (000 1 \"利用を希望するもの\")",
            Obligation::Obligated => "online confirmation obligatory from the designation day (原則義務化 from 2023-04-01, 001 第2 \"指定を受ける時点において、原則として…導入している必要がある\")",
            Obligation::ExemptPaperClaims => "paper-claims clinic: an exception to the April 2023 mandate (001 ※3 \"原則義務化の例外\")",
            Obligation::Transitional => "経過措置 (001 1(1)): inside the April 2023 mandate but not obliged on the designation day",
        }
    }
}

/// Business days before the answer date that the request deadline falls in a rule
/// set's first month, when the usual deadline would come before the procedure starts:
/// *(our choice: 3, the bureau's default handling time, so a request on the deadline
/// is still answered by the 10th)*. The seeds set no such date; 000 and 001 only say
/// which requests the new procedure applies to (docs/SEEDS.md).
pub const FIRST_MONTH_DEADLINE_LEAD: i32 = 3;

/// The 1st of the month `months` before `designation`.
pub fn month_start_before(designation: NaiveDate, months: u32) -> NaiveDate {
    calendar::first_of_month_before(designation, months)
}

/// "M−1", "M−2", … as the rule texts write them.
pub fn month_name(k: u32) -> String {
    format!("M−{k}")
}
