//! The connectable-line list (接続可能回線・事業者一覧) exactly as the r2024 guide
//! prints it (seed 001, "〈参考〉電気通信回線種別"), matched by normalised name with
//! aliases.
//!
//! IP-VPN接続方式 (光回線に限る): NTT東日本・西日本 フレッツ 光ネクスト / 光クロス /
//! 光ライト / 光ライトプラス; 中部テレコミュニケーション株式会社（CTC）ビジネスコミュファ光;
//! 株式会社QTnet BBIQ; 光コラボレーション事業者等 ("※1 …利用可能な場合がございます").
//! IPsec+IKE接続方式: NTTコミュニケーションズ IP-Members, NTTデータ中国 @OnDemand接続サービス,
//! 富士通 FENICS II ユニバーサルコネクトアドバンス, 三菱電機インフォメーションネットワーク
//! SecureMinder. "※既設回線の場合、上記4業者との追加契約が別途必要となります。"

use super::params::LineType;

/// One row of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedLine {
    /// The carrier as the guide names it.
    pub carrier: &'static str,
    /// The service (種別 / サービス名) as the guide names it.
    pub service: &'static str,
    pub line: LineType,
    /// Other names that mean this row *(our choice)*: short and former company names
    /// (QTnet was 九州通信ネットワーク株式会社), the service name alone.
    pub aliases: &'static [&'static str],
    /// 光コラボレーション事業者等: "利用可能な場合がございます" — connectable only if the
    /// scenario says its collaboration service is one of those
    /// (`actors.carrier.hikari_collabo_available`).
    pub conditional: bool,
    /// An NTT line: the usage application needs the お客様ID (guide 3-4, IP-VPN only).
    pub ntt: bool,
}

const fn row(
    carrier: &'static str,
    service: &'static str,
    line: LineType,
    aliases: &'static [&'static str],
    ntt: bool,
) -> ListedLine {
    ListedLine {
        carrier,
        service,
        line,
        aliases,
        conditional: false,
        ntt,
    }
}

use LineType::{IpVpn, IpsecIke};

/// The list, in the guide's order. NTT's four services are listed once for
/// "NTT東日本・西日本"; each is offered by both, so both company names match.
pub const CONNECTABLE: [ListedLine; 11] = [
    row(
        "NTT東日本・西日本",
        "フレッツ 光ネクスト",
        IpVpn,
        &[
            "NTT東日本 フレッツ 光ネクスト",
            "NTT西日本 フレッツ 光ネクスト",
        ],
        true,
    ),
    row(
        "NTT東日本・西日本",
        "フレッツ 光クロス",
        IpVpn,
        &["NTT東日本 フレッツ 光クロス", "NTT西日本 フレッツ 光クロス"],
        true,
    ),
    row(
        "NTT東日本・西日本",
        "フレッツ 光ライト",
        IpVpn,
        &["NTT東日本 フレッツ 光ライト", "NTT西日本 フレッツ 光ライト"],
        true,
    ),
    row(
        "NTT東日本・西日本",
        "フレッツ 光ライトプラス",
        IpVpn,
        &[
            "NTT東日本 フレッツ 光ライトプラス",
            "NTT西日本 フレッツ 光ライトプラス",
        ],
        true,
    ),
    row(
        "中部テレコミュニケーション株式会社（CTC）",
        "ビジネスコミュファ光",
        IpVpn,
        &[
            "中部テレコミュニケーション ビジネスコミュファ光",
            "CTC ビジネスコミュファ光",
        ],
        false,
    ),
    row(
        "株式会社QTnet",
        "BBIQ",
        IpVpn,
        &["QTnet BBIQ", "九州通信ネットワーク BBIQ"],
        false,
    ),
    ListedLine {
        carrier: "光コラボレーション事業者等",
        service: "—",
        line: IpVpn,
        aliases: &["光コラボレーション事業者", "光コラボ"],
        conditional: true,
        ntt: false,
    },
    row(
        "株式会社NTTコミュニケーションズ",
        "IP-Members",
        IpsecIke,
        &["NTTコミュニケーションズ IP-Members"],
        false,
    ),
    row(
        "株式会社NTTデータ中国",
        "@OnDemand接続サービス",
        IpsecIke,
        &["NTTデータ中国 @OnDemand", "@OnDemand"],
        false,
    ),
    row(
        "富士通株式会社",
        "FENICS II ユニバーサルコネクトアドバンス",
        IpsecIke,
        &["富士通 FENICS II", "FENICS II"],
        false,
    ),
    row(
        "三菱電機インフォメーションネットワーク株式会社",
        "SecureMinder",
        IpsecIke,
        &[
            "三菱電機 SecureMinder",
            "三菱電機インフォメーションネットワーク SecureMinder",
        ],
        false,
    ),
];

/// Normalise a name for matching: full-width ASCII folded to half-width, ASCII
/// lower-cased, spaces (also the ideographic space) and the middle dot dropped, and
/// the company-form words 株式会社 / (株) removed. *(our choice)*
pub fn normalise(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '・' && *c != '･')
        .collect::<String>()
        .to_lowercase();
    folded
        .replace("株式会社", "")
        .replace("(株)", "")
        .replace('（', "(")
        .replace('）', ")")
}

/// The names each row of [`CONNECTABLE`] answers to, normalised once per process
/// (a sweep or an ecosystem run looks a service up for every clinic): carrier and
/// service together, the service alone (when it has one), the carrier alone (only for
/// a conditional row, 光コラボ), and every alias.
fn row_names() -> &'static [Vec<String>] {
    static NAMES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        CONNECTABLE
            .iter()
            .map(|l| {
                let mut names = vec![normalise(&format!("{}{}", l.carrier, l.service))];
                if l.service != "—" {
                    names.push(normalise(l.service));
                }
                if l.conditional {
                    names.push(normalise(l.carrier));
                }
                names.extend(l.aliases.iter().map(|a| normalise(a)));
                names
            })
            .collect()
    })
}

/// The row `service` names, if any, whatever its line type.
///
/// The answers to the last few services asked on this thread are kept (a sweep or an
/// ecosystem run asks for the same one or two services for every clinic, and
/// normalising a Japanese name costs more than the rest of building the carrier); an
/// answer depends on the text alone, so a kept one is the one [`find_uncached`] gives
/// (a proptest holds it).
pub fn find(service: &str) -> Option<&'static ListedLine> {
    thread_local! {
        static RECENT: std::cell::RefCell<Vec<(String, Option<usize>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    /// How many answers are kept; when full, the list starts again.
    const KEPT: usize = 16;
    let kept = RECENT.with(|r| {
        r.borrow()
            .iter()
            .find(|(s, _)| s == service)
            .map(|&(_, row)| row)
    });
    let row = match kept {
        Some(row) => row,
        None => {
            let row = find_uncached(service);
            RECENT.with(|r| {
                let mut r = r.borrow_mut();
                if r.len() >= KEPT {
                    r.clear();
                }
                r.push((service.to_string(), row));
            });
            row
        }
    };
    row.map(|i| &CONNECTABLE[i])
}

/// The index in [`CONNECTABLE`] of the row `service` names: normalised and compared
/// with every row's names, on every call.
pub fn find_uncached(service: &str) -> Option<usize> {
    let n = normalise(service);
    if n.is_empty() {
        return None;
    }
    row_names().iter().position(|names| names.contains(&n))
}

/// Why a service of a line type cannot be used, if it cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineRefusal {
    #[error("{0:?} is not on the connectable list (接続可能回線・事業者一覧)")]
    NotListed(String),
    #[error("{service:?} is listed for {listed}, not {ordered}")]
    WrongType {
        service: String,
        listed: &'static str,
        ordered: &'static str,
    },
    #[error("a plain internet line is not on the connectable list")]
    Internet,
    #[error("{0:?}: this 光コラボレーション service is not one of those that can be used (hikari_collabo_available = false)")]
    CollaboUnavailable(String),
}

fn type_name(t: LineType) -> &'static str {
    match t {
        LineType::IpVpn => "ip-vpn",
        LineType::IpsecIke => "ipsec-ike",
        LineType::Internet => "internet",
    }
}

/// Is `service` of `line` connectable? `collabo_available` decides the 光コラボ row.
pub fn check(
    service: &str,
    line: LineType,
    collabo_available: bool,
) -> Result<&'static ListedLine, LineRefusal> {
    if line == LineType::Internet {
        return Err(LineRefusal::Internet);
    }
    let l = find(service).ok_or_else(|| LineRefusal::NotListed(service.to_string()))?;
    if l.line != line {
        return Err(LineRefusal::WrongType {
            service: service.to_string(),
            listed: type_name(l.line),
            ordered: type_name(line),
        });
    }
    if l.conditional && !collabo_available {
        return Err(LineRefusal::CollaboUnavailable(service.to_string()));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guide_name_matches_its_row() {
        for name in [
            "NTT東日本 フレッツ 光ライト",
            "NTT東日本 フレッツ 光ライトプラス",
            "NTT西日本 フレッツ 光ライトプラス",
            "フレッツ光ネクスト",
            "ＮＴＴ東日本　フレッツ　光クロス",
            "QTnet BBIQ",
            "株式会社QTnet BBIQ",
            "九州通信ネットワーク BBIQ",
            "中部テレコミュニケーション株式会社（CTC） ビジネスコミュファ光",
        ] {
            let l = check(name, LineType::IpVpn, true).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(l.line, LineType::IpVpn);
        }
        for name in [
            "NTTコミュニケーションズ IP-Members",
            "富士通 FENICS II",
            "@OnDemand",
        ] {
            check(name, LineType::IpsecIke, true).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn unlisted_wrong_type_and_collabo() {
        assert!(matches!(
            check("某社 光ビジネス回線", LineType::IpVpn, true),
            Err(LineRefusal::NotListed(_))
        ));
        assert!(matches!(
            check("NTTデータ中国 @OnDemand", LineType::IpVpn, true),
            Err(LineRefusal::WrongType { .. })
        ));
        assert!(check("光コラボレーション事業者", LineType::IpVpn, true).is_ok());
        assert!(matches!(
            check("光コラボレーション事業者", LineType::IpVpn, false),
            Err(LineRefusal::CollaboUnavailable(_))
        ));
        assert_eq!(
            check("x", LineType::Internet, true),
            Err(LineRefusal::Internet)
        );
        assert!(find("").is_none());
    }

    #[test]
    fn ntt_rows_need_the_customer_id() {
        assert!(find("NTT西日本 フレッツ 光ライト").unwrap().ntt);
        assert!(!find("QTnet BBIQ").unwrap().ntt);
    }

    /// The lookup as first written: every row's names normalised on every call.
    fn find_by_rescanning(service: &str) -> Option<&'static ListedLine> {
        let n = normalise(service);
        if n.is_empty() {
            return None;
        }
        CONNECTABLE.iter().find(|l| {
            normalise(&format!("{}{}", l.carrier, l.service)) == n
                || (l.service != "—" && normalise(l.service) == n)
                || normalise(l.carrier) == n && l.conditional
                || l.aliases.iter().any(|a| normalise(a) == n)
        })
    }

    proptest::proptest! {
        /// The names normalised once answer exactly as rescanning the list does, for
        /// every name of the list (with spaces, width and company form varied) and
        /// for arbitrary text.
        #[test]
        fn cached_names_find_what_rescanning_finds(
            row in 0..CONNECTABLE.len(),
            which in 0..4usize,
            spaced in proptest::bool::ANY,
            noise in "\\PC{0,12}",
        ) {
            let l = &CONNECTABLE[row];
            let name = match which {
                0 => format!("{} {}", l.carrier, l.service),
                1 => l.service.to_string(),
                2 => l.carrier.to_string(),
                _ => l.aliases.first().map_or(l.service.to_string(), |a| a.to_string()),
            };
            let name = if spaced { name.replace(' ', "　") } else { name };
            for q in [name.clone(), format!("株式会社{name}"), noise.clone(), format!("{name}{noise}")] {
                let want = find_by_rescanning(&q).map(|l| (l.carrier, l.service));
                proptest::prop_assert_eq!(
                    find(&q).map(|l| (l.carrier, l.service)),
                    want,
                    "{:?}", q
                );
                // Asked again: the kept answer is the same.
                proptest::prop_assert_eq!(find(&q).map(|l| (l.carrier, l.service)), want, "{:?} again", q);
            }
        }
    }
}
