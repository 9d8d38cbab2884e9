//! Every word a figure shows, in English and Japanese (`--lang en|ja`).
//!
//! The Japanese terms follow the seeds' vocabulary (docs/DOMAIN.md): 指定日, 受付番号,
//! 返戻, 補正, 開庁日, 顔認証付きカードリーダー, 資格確認限定型.

use clap::ValueEnum;

/// The language of a figure's labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

/// The name of an outcome (`online-on-designation-day`, …) in `lang`.
pub fn outcome(lang: Lang, id: &str) -> String {
    if lang == Lang::En {
        return id.to_string();
    }
    match id {
        "online-on-designation-day" => "指定日に運用開始",
        "online-late" => "指定日より遅れて運用開始",
        "not-online" => "期間内に運用開始せず",
        "request-returned" => "受付番号の申請が返戻",
        "not-designated" => "未指定",
        "exempt" => "義務の対象外",
        "limited-type-ready" => "資格確認限定型の準備完了",
        "refused" => "シナリオの受付拒否",
        other => other,
    }
    .to_string()
}

/// The name of a critical-path cause (`reader-late`, …) in `lang`.
pub fn cause(lang: Lang, id: &str) -> String {
    if lang == Lang::En {
        return id.to_string();
    }
    match id {
        "request-returned" => "受付番号申請の返戻",
        "bureau-answer-late" => "厚生局の回答遅れ",
        "reception-number-late" => "受付番号の提出遅れ",
        "onboarding-plan-correction" => "導入計画書の補正",
        "designation-application-late" => "指定申請の遅れ",
        "designation-refused" => "未指定",
        "reader-dead-on-arrival" => "カードリーダーの初期不良",
        "reader-late" => "カードリーダーの納品遅れ",
        "line-not-connectable" => "回線が接続可能回線でない",
        "line-late" => "回線開通の遅れ",
        "portal-account-late" => "ポータルアカウント開設の遅れ",
        "certificate-notice-lost" => "証明書通知の郵送事故",
        "certificate-notice-late" => "証明書通知の到着遅れ",
        "installation-connectivity" => "導入日の接続確認失敗",
        "go-live-connectivity" => "運用開始時の接続確認失敗",
        "other" => "その他",
        other => other,
    }
    .to_string()
}

/// Title of the P(outcome) chart for one varied key.
pub fn p_title(lang: Lang, outcome_id: &str, key: &str) -> String {
    match lang {
        Lang::En => format!("P({outcome_id}) against {key}"),
        Lang::Ja => format!("{key} ごとの「{}」の確率", outcome(lang, outcome_id)),
    }
}

pub fn p_axis(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "probability (band: Wilson 95% interval)",
        Lang::Ja => "確率（帯：Wilson 95%信頼区間）",
    }
}

pub fn delay_title(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Start delay, tail view: P(delay > d), log scale",
        Lang::Ja => "運用開始の遅れ（裾）：P(遅れ > d)、対数目盛",
    }
}

/// The x axis of the start-delay chart, by the sweep's unit.
pub fn delay_axis(lang: Lang, business: bool) -> &'static str {
    match (lang, business) {
        (Lang::En, true) => "d: start delay after the designation day (business days)",
        (Lang::En, false) => "d: start delay after the designation day (calendar days)",
        (Lang::Ja, true) => "d：指定日からの運用開始の遅れ（開庁日）",
        (Lang::Ja, false) => "d：指定日からの運用開始の遅れ（暦日）",
    }
}

pub fn delay_y(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "P(delay > d), never online counted as beyond every d",
        Lang::Ja => "P(遅れ > d)（期間内に開始しない実行は常に超過）",
    }
}

pub fn critical_title(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Critical path: why runs were not online on the designation day",
        Lang::Ja => "クリティカルパス：指定日に運用開始できなかった理由",
    }
}

pub fn critical_axis(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "share of runs not online on day 1 (bar: Wilson 95% interval)",
        Lang::Ja => "指定日に開始できなかった実行に占める割合（線：Wilson 95%信頼区間）",
    }
}

/// The legend entry of a sweep without `--vary`.
pub fn base(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "base scenario",
        Lang::Ja => "基本シナリオ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::cause::CAUSES;
    use crate::sweep::OUTCOMES;

    /// Every outcome and cause has a Japanese name (none falls through to its id).
    #[test]
    fn every_id_is_translated() {
        for o in OUTCOMES {
            let ja = outcome(Lang::Ja, o.as_str());
            assert_ne!(ja, o.as_str());
            assert!(!ja.is_ascii(), "{ja}");
            assert_eq!(outcome(Lang::En, o.as_str()), o.as_str());
        }
        for c in CAUSES {
            let ja = cause(Lang::Ja, c.as_str());
            assert!(!ja.is_ascii(), "{} → {ja}", c.as_str());
        }
    }
}
