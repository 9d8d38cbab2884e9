//! 資格確認限定型 (the limited type): eligibility-only online confirmation for
//! institutions outside the mandate, as seed 004 (事務連絡 2024-06-21 and its leaflet and
//! form) describes it. The rules here are used by the timeline clinic
//! ([`super::clinic::Clinic`]) and by scenario validation.
//!
//! - **Who** (004): "令和5年度末時点で義務化対象外の医療機関・薬局" — institutions that
//!   already exist (they hold their 医療機関等コード; the form asks for it) and bill on
//!   paper. No new clinic can be paper-claims from April 2024 (001 ※3), so a limited-type
//!   clinic files no reception-number request and no designation application: it is
//!   already designated. In a scenario its `designation` is the 1st of the month it
//!   plans to start using the limited type (利用開始予定月) *(our choice: the key keeps
//!   its place in every scenario so that schedules, horizons and sweeps work unchanged)*.
//! - **Application** (004 leaflet): on the portal, which needs a portal user first
//!   ("ポータルサイトから各種申請を行う場合は、事前にアカウント登録が必要です"), or by post
//!   with the form, whose 申請区分 "1. ポータルサイトユーザー登録申請" and "2. マイナ資格確認
//!   アプリ利用開始申請" register the user and start the use in one form ("両方申請される方
//!   においては記入不要"). By post the review takes longer ("郵送での申請は…審査にお時間が
//!   掛かってしまう").
//! - **運用開始日** (004 form): "実施機関において登録した日を「運用開始（予定）日」とさせて
//!   いただきます" — the day the implementing body registers the application, not the
//!   1st of a month: the clinic is ready on that day once its device is there.
//! - **Devices** (004 補助対象の機器): a smartphone, a tablet (with a Bluetooth 汎用カード
//!   リーダー when it cannot read the card itself), or a 市販の汎用カードリーダー connected
//!   to a PC or tablet ([`Device`]).
//! - **Subsidy** (004): "補助額は最大3.1万円です。（事業費に対し3/4の補助）補助金の申請期限は、
//!   令和7年1月15日までを予定しています" ([`subsidy_yen`], [`SUBSIDY_DEADLINE`]); the form
//!   for it comes with the approval (by post) or is on the portal.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::EventKind;

/// Why a limited-type clinic is ready (the `limited-type-ready` event's text).
pub const READY_WHY: &str = "資格確認限定型: eligibility-only confirmation; 運用開始日 is the day the implementing body registered the application (004 \"実施機関において登録した日\")";

/// The most the subsidy pays, in yen (004 "補助額は最大3.1万円").
pub const SUBSIDY_MAX_YEN: u32 = 31_000;

/// The last day to apply for the subsidy (004 "補助金の申請期限は、令和7年1月15日までを
/// 予定"; the leaflet says 予定, planned).
pub fn subsidy_deadline() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 15).expect("a valid date")
}

/// The last day to apply for the subsidy, as a constant for documentation.
pub const SUBSIDY_DEADLINE: &str = "2025-01-15";

/// The subsidy for a device bought for `cost_yen`: three quarters of the cost (004
/// "事業費に対し3/4の補助"), at most [`SUBSIDY_MAX_YEN`], rounded down to the yen
/// *(our choice: the seed gives no rounding)*.
pub fn subsidy_yen(cost_yen: u32) -> u32 {
    let three_quarters = (u64::from(cost_yen) * 3 / 4) as u32;
    three_quarters.min(SUBSIDY_MAX_YEN)
}

/// The device a limited-type clinic reads the card with (004 補助対象の機器).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Device {
    /// パソコン・タブレットに接続する市販の汎用カードリーダー (the default).
    #[default]
    GenericReader,
    /// スマートフォン (reads the card itself).
    Smartphone,
    /// タブレット that reads the card itself.
    Tablet,
    /// タブレット without a card-reading function, with a Bluetooth 汎用カードリーダー
    /// ("マイナンバーカードの読み取り機能の無いタブレットでは Bluetooth汎用カードリーダー
    /// が必要です").
    TabletWithBluetoothReader,
}

impl Device {
    /// The name the trace uses.
    pub fn name_ja(self) -> &'static str {
        match self {
            Device::GenericReader => "市販の汎用カードリーダー",
            Device::Smartphone => "スマートフォン",
            Device::Tablet => "タブレット",
            Device::TabletWithBluetoothReader => "タブレット＋Bluetooth汎用カードリーダー",
        }
    }

    /// The price a scenario assumes when it names none, in yen *(our choice: the seed
    /// gives no prices; set `[clinic] device_cost`)*.
    pub fn default_cost_yen(self) -> u32 {
        match self {
            Device::GenericReader => 4_000,
            Device::Smartphone => 40_000,
            Device::Tablet => 40_000,
            Device::TabletWithBluetoothReader => 45_000,
        }
    }
}

/// A limited-type clinic's own choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitedTypeSetup {
    pub device: Device,
    /// What the device cost, in yen.
    pub device_cost_yen: u32,
}

impl LimitedTypeSetup {
    /// The subsidy this clinic's device earns.
    pub fn subsidy_yen(&self) -> u32 {
        subsidy_yen(self.device_cost_yen)
    }

    /// The clinic's subsidy application once it is ready on `ready_on`: on the plan's
    /// day if later (`planned`), else that day *(our choice)*; after the deadline none
    /// is granted. One rule for the timeline clinic and the live verdict.
    pub fn subsidy_application(
        &self,
        ready_on: NaiveDate,
        planned: Option<NaiveDate>,
    ) -> SubsidyApplication {
        let day = planned.map_or(ready_on, |d| d.max(ready_on));
        let deadline = subsidy_deadline();
        if day > deadline {
            SubsidyApplication {
                day,
                kind: EventKind::SubsidyDeadlineMissed,
                why: "004: the subsidy application deadline (令和7年1月15日までを予定) has passed: no subsidy",
                detail: format!("applied {day}, deadline {deadline}"),
            }
        } else {
            SubsidyApplication {
                day,
                kind: EventKind::SubsidyApplied,
                why: "004: device subsidy applied for (事業費に対し3/4の補助, 最大3.1万円)",
                detail: format!(
                    "¥{} for a device of ¥{}",
                    self.subsidy_yen(),
                    self.device_cost_yen
                ),
            }
        }
    }
}

/// What [`LimitedTypeSetup::subsidy_application`] decided: the event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsidyApplication {
    pub day: NaiveDate,
    /// `subsidy-applied` or `subsidy-deadline-missed`.
    pub kind: EventKind,
    pub why: &'static str,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn three_quarters_up_to_31000() {
        assert_eq!(subsidy_yen(4_000), 3_000);
        assert_eq!(subsidy_yen(40_000), 30_000);
        // 41,334 × 3/4 = 31,000.5: capped.
        assert_eq!(subsidy_yen(41_334), 31_000);
        assert_eq!(subsidy_yen(45_000), 31_000);
        assert_eq!(subsidy_yen(0), 0);
        assert_eq!(subsidy_yen(1), 0);
        assert_eq!(subsidy_deadline().to_string(), SUBSIDY_DEADLINE);
    }

    proptest! {
        /// Never more than three quarters, never more than the cap, and monotone.
        #[test]
        fn subsidy_is_capped_three_quarters(cost in any::<u32>(), more in 0u32..100_000) {
            let s = subsidy_yen(cost);
            prop_assert!(s <= SUBSIDY_MAX_YEN);
            prop_assert!(u64::from(s) * 4 <= u64::from(cost) * 3);
            prop_assert!(subsidy_yen(cost.saturating_add(more)) >= s);
        }
    }
}
