//! Certification cycles: when a pensioner must next certify that they are alive.
//!
//! Pure: "today" is always a parameter. Rules come from data ([`RuleTable`]),
//! chosen per benefit type and region (GB/T 2260 prefix). See DOMAIN.md §4.1.
//!
//! Two rule kinds exist:
//! - [`CycleRule::Rolling`]: the cycle runs from the month after the last
//!   success (first cycle: from the month after approval, "自待遇申请审核通过的次月
//!   开始计算"); the deadline is the last day of month (success month + N).
//! - [`CycleRule::BirthdayWindow`]: "每年生日当月至次年生日上月"; one success per
//!   window, the deadline is the end of the window.
//!
//! Date arithmetic never panics: a date that would fall outside
//! [`Date::MIN`]..=[`Date::MAX`] saturates to that bound.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Kind of benefit being certified; each may have its own cycle. The wire
/// crate owns the type so kiosk and server agree on it.
pub use lifecert_protocol::BenefitType;

/// How the certification deadline is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CycleRule {
    /// Rolling cycle of `months` months counted from the month after the last
    /// success; certification is invited during the last `open_months` months.
    Rolling {
        /// Cycle length N (1..=24).
        months: u8,
        /// Months before (and including) the deadline month during which
        /// certification is invited (1..=`months`; `== months` means from the
        /// month after the success).
        open_months: u8,
    },
    /// Yearly window from the birthday month to the month before the next
    /// birthday month (older Guangxi rule).
    BirthdayWindow,
}

/// What the agency knows about one person's certification history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertHistory {
    /// Day the benefit application was approved (待遇申请审核通过).
    pub approved_on: Date,
    /// Most recent successful certification, if any.
    pub last_success: Option<Date>,
    /// Date of birth from the ID card (only the month is used).
    pub birth_date: Date,
}

/// The next certification period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextDue {
    /// First day on which certification is invited.
    pub opens_on: Date,
    /// Last day (inclusive, always the last day of a month) to certify.
    pub deadline: Date,
}

/// Certification status of a person on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertStatus {
    /// First cycle not started yet (still in the approval month).
    NotOpenYet {
        /// First day on which certification is possible.
        opens_on: Date,
    },
    /// Certification is due now.
    Due {
        /// Last day to certify.
        deadline: Date,
    },
    /// The deadline has passed: payment is suspended ("逾期未完成认证的，社保部门将停发").
    Overdue {
        /// The missed deadline.
        deadline: Date,
        /// Calendar months since the deadline month (≥ 1).
        months: u32,
    },
    /// Already certified in this cycle; no need to certify again yet.
    Certified {
        /// Day of the last success.
        on: Date,
        /// The next period.
        next: NextDue,
    },
}

/// Errors from rule validation and lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Rolling cycle length outside 1..=24.
    #[error("cycle length {months} months is outside 1..=24")]
    MonthsOutOfRange {
        /// The rejected length.
        months: u8,
    },
    /// `open_months` outside 1..=months.
    #[error("open window of {open_months} months is outside 1..={months}")]
    OpenMonthsOutOfRange {
        /// Cycle length.
        months: u8,
        /// The rejected open window.
        open_months: u8,
    },
    /// Region prefix is not 0–6 ASCII digits.
    #[error("region prefix {0:?} is not a GB/T 2260 prefix (0 to 6 digits)")]
    BadRegionPrefix(String),
    /// Two entries for the same benefit and region prefix.
    #[error("duplicate rule for {benefit:?} in region prefix {region_prefix:?}")]
    Duplicate {
        /// Benefit of the duplicated entry.
        benefit: BenefitType,
        /// Region prefix of the duplicated entry.
        region_prefix: String,
    },
    /// No entry matches the benefit (not even a national default).
    #[error("no certification rule for {benefit:?} in region {region:?}")]
    NoRule {
        /// Benefit looked up.
        benefit: BenefitType,
        /// Region code looked up.
        region: String,
    },
}

/// Longest cycle accepted by [`CycleRule::validate`].
pub const MAX_CYCLE_MONTHS: u8 = 24;

impl CycleRule {
    /// Checks `months` in 1..=24 and `open_months` in 1..=`months`.
    pub fn validate(&self) -> Result<(), RuleError> {
        match *self {
            CycleRule::Rolling {
                months,
                open_months,
            } => {
                if !(1..=MAX_CYCLE_MONTHS).contains(&months) {
                    Err(RuleError::MonthsOutOfRange { months })
                } else if !(1..=months).contains(&open_months) {
                    Err(RuleError::OpenMonthsOutOfRange {
                        months,
                        open_months,
                    })
                } else {
                    Ok(())
                }
            }
            CycleRule::BirthdayWindow => Ok(()),
        }
    }

    /// The period following a success on `success_on`.
    ///
    /// Unvalidated rolling values are clamped (months ≥ 1, open_months into
    /// 1..=months), so the success month itself is never open.
    pub fn next_after_success(&self, success_on: Date, birth_date: Date) -> NextDue {
        let m = month_index(success_on);
        match *self {
            CycleRule::Rolling {
                months,
                open_months,
            } => {
                let (n, open) = clamp_rolling(months, open_months);
                NextDue {
                    opens_on: first_of(m + n - open + 1),
                    deadline: last_of(m + n),
                }
            }
            CycleRule::BirthdayWindow => {
                let start = window_start(m, birth_date.month());
                NextDue {
                    opens_on: first_of(start + 12),
                    deadline: last_of(start + 23),
                }
            }
        }
    }

    /// Status of `h` on `today`.
    pub fn status(&self, h: &CertHistory, today: Date) -> CertStatus {
        if let Some(on) = h.last_success {
            let next = self.next_after_success(on, h.birth_date);
            if today > next.deadline {
                overdue(next.deadline, today)
            } else if today < next.opens_on {
                CertStatus::Certified { on, next }
            } else {
                CertStatus::Due {
                    deadline: next.deadline,
                }
            }
        } else {
            let a = month_index(h.approved_on);
            let opens_on = first_of(a + 1);
            let deadline = match *self {
                CycleRule::Rolling {
                    months,
                    open_months,
                } => last_of(a + clamp_rolling(months, open_months).0),
                CycleRule::BirthdayWindow => {
                    last_of(window_start(a + 1, h.birth_date.month()) + 11)
                }
            };
            if today < opens_on {
                CertStatus::NotOpenYet { opens_on }
            } else if today > deadline {
                overdue(deadline, today)
            } else {
                CertStatus::Due { deadline }
            }
        }
    }
}

/// One row of a [`RuleTable`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEntry {
    /// Benefit the rule applies to.
    pub benefit: BenefitType,
    /// GB/T 2260 region prefix ("45" = Guangxi, "4504" = Wuzhou); "" = national default.
    pub region_prefix: String,
    /// The cycle rule.
    pub rule: CycleRule,
}

/// Cycle rules per benefit and region, loadable from data (TOML/JSON via serde).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTable {
    /// All rows; order does not matter.
    pub entries: Vec<RuleEntry>,
}

impl RuleTable {
    /// Builds a table, rejecting invalid rules, bad prefixes and duplicates.
    pub fn new(entries: Vec<RuleEntry>) -> Result<Self, RuleError> {
        let table = RuleTable { entries };
        table.validate()?;
        Ok(table)
    }

    /// Validates every entry (call after deserialising).
    pub fn validate(&self) -> Result<(), RuleError> {
        for (i, e) in self.entries.iter().enumerate() {
            e.rule.validate()?;
            if e.region_prefix.len() > 6 || !e.region_prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RuleError::BadRegionPrefix(e.region_prefix.clone()));
            }
            let dup = self.entries[..i]
                .iter()
                .any(|p| p.benefit == e.benefit && p.region_prefix == e.region_prefix);
            if dup {
                return Err(RuleError::Duplicate {
                    benefit: e.benefit,
                    region_prefix: e.region_prefix.clone(),
                });
            }
        }
        Ok(())
    }

    /// Rule for `benefit` in `region` (a GB/T 2260 code such as "450403", or the
    /// first 6 digits of an ID number): the entry with the longest matching
    /// prefix wins, "" being the national fallback.
    pub fn lookup(&self, benefit: BenefitType, region: &str) -> Result<CycleRule, RuleError> {
        self.entries
            .iter()
            .filter(|e| e.benefit == benefit && region.starts_with(e.region_prefix.as_str()))
            .max_by_key(|e| e.region_prefix.len())
            .map(|e| e.rule)
            .ok_or_else(|| RuleError::NoRule {
                benefit,
                region: region.to_owned(),
            })
    }

    /// Built-in defaults (DOMAIN.md §4.1):
    /// - national pension, unemployment, long-term work injury: `Rolling { 12, open 3 }`
    ///   (12-month rolling cycle, 粤人社规〔2023〕4号 via gz.gov.cn; Shandong
    ///   "每次认证时间间隔不超过12个月"; Guangxi guide for the three benefit kinds);
    /// - dependants' relief / survivors' benefits: `Rolling { 6, open 2 }`
    ///   ("领取养老保险供养救济费或工伤供养抚恤金的人员以6个月为一个认证周期", Guangxi guide);
    /// - Guangxi ("45") pension: `BirthdayWindow` ("每年生日当月至次年生日上月", Wuzhou 2018).
    ///
    /// The open windows (3 and 2 months) are a kiosk policy, not from a source:
    /// they avoid inviting needless re-certification right after a success.
    pub fn builtin() -> Self {
        let row = |benefit, region_prefix: &str, rule| RuleEntry {
            benefit,
            region_prefix: region_prefix.to_owned(),
            rule,
        };
        let yearly = CycleRule::Rolling {
            months: 12,
            open_months: 3,
        };
        RuleTable {
            entries: vec![
                row(BenefitType::Pension, "", yearly),
                row(BenefitType::Unemployment, "", yearly),
                row(BenefitType::WorkInjury, "", yearly),
                row(
                    BenefitType::DependantRelief,
                    "",
                    CycleRule::Rolling {
                        months: 6,
                        open_months: 2,
                    },
                ),
                row(BenefitType::Pension, "45", CycleRule::BirthdayWindow),
            ],
        }
    }
}

/// "下次认证时间：2027年3月31日前".
pub fn success_sentence(next: &NextDue) -> String {
    format!("下次认证时间：{}前", zh_date(next.deadline))
}

/// Plain Chinese sentence for elderly users describing `status`.
pub fn status_sentence(status: &CertStatus) -> String {
    match status {
        CertStatus::NotOpenYet { opens_on } => {
            format!("您现在无需认证，{}起可以认证", zh_date(*opens_on))
        }
        CertStatus::Due { deadline } => {
            format!("请您在{}前完成本次认证", zh_date(*deadline))
        }
        CertStatus::Overdue { months, .. } => {
            format!("您已逾期{months}个月未认证，待遇已暂停发放，请到社保经办窗口办理")
        }
        CertStatus::Certified { on, next } => {
            format!("您已于{}完成认证，{}", zh_date(*on), success_sentence(next))
        }
    }
}

/// "2027年3月31日" (no zero padding).
fn zh_date(d: Date) -> String {
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

fn clamp_rolling(months: u8, open_months: u8) -> (i64, i64) {
    let n = months.max(1);
    (i64::from(n), i64::from(open_months.clamp(1, n)))
}

fn overdue(deadline: Date, today: Date) -> CertStatus {
    let diff = month_index(today) - month_index(deadline);
    CertStatus::Overdue {
        deadline,
        months: u32::try_from(diff.max(1)).unwrap_or(u32::MAX),
    }
}

/// Months since year 0 (January of year 0 = 0).
fn month_index(d: Date) -> i64 {
    i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1
}

/// Start month index of the birthday window containing month index `m`.
fn window_start(m: i64, birth_month: Month) -> i64 {
    let b = i64::from(u8::from(birth_month)) - 1;
    m - (m.rem_euclid(12) - b).rem_euclid(12)
}

/// Year and month of a month index, if representable.
fn split(m: i64) -> Option<(i32, Month)> {
    let year = i32::try_from(m.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(m.rem_euclid(12) + 1).ok()?).ok()?;
    Some((year, month))
}

fn saturate(m: i64) -> Date {
    if m < month_index(Date::MIN) {
        Date::MIN
    } else {
        Date::MAX
    }
}

/// First day of month `m`, saturating.
fn first_of(m: i64) -> Date {
    split(m)
        .and_then(|(y, mo)| Date::from_calendar_date(y, mo, 1).ok())
        .unwrap_or_else(|| saturate(m))
}

/// Last day of month `m`, saturating.
fn last_of(m: i64) -> Date {
    split(m)
        .and_then(|(y, mo)| Date::from_calendar_date(y, mo, mo.length(y)).ok())
        .unwrap_or_else(|| saturate(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use time::macros::date;

    const Y12: CycleRule = CycleRule::Rolling {
        months: 12,
        open_months: 3,
    };
    const D6: CycleRule = CycleRule::Rolling {
        months: 6,
        open_months: 2,
    };
    const BDAY: Date = date!(1950 - 05 - 17);

    fn hist(approved_on: Date, last_success: Option<Date>) -> CertHistory {
        CertHistory {
            approved_on,
            last_success,
            birth_date: BDAY,
        }
    }

    fn rolling(months: u8, open_months: u8) -> CycleRule {
        CycleRule::Rolling {
            months,
            open_months,
        }
    }

    #[rstest]
    // Seed: success March 2022 → by 2023-03-31.
    #[case(Y12, date!(2022 - 03 - 15), date!(2023 - 01 - 01), date!(2023 - 03 - 31))]
    // Seed: success June 2020 → June 2021 inclusive.
    #[case(Y12, date!(2020 - 06 - 20), date!(2021 - 04 - 01), date!(2021 - 06 - 30))]
    // Seed: 6-month dependants, success 2022-03 → 2022-09-30.
    #[case(D6, date!(2022 - 03 - 01), date!(2022 - 08 - 01), date!(2022 - 09 - 30))]
    // Month ends and leap years.
    #[case(rolling(6, 6), date!(2023 - 08 - 31), date!(2023 - 09 - 01), date!(2024 - 02 - 29))]
    #[case(rolling(12, 1), date!(2022 - 02 - 28), date!(2023 - 02 - 01), date!(2023 - 02 - 28))]
    #[case(rolling(12, 1), date!(2023 - 02 - 01), date!(2024 - 02 - 01), date!(2024 - 02 - 29))]
    #[case(rolling(6, 1), date!(2022 - 10 - 31), date!(2023 - 04 - 01), date!(2023 - 04 - 30))]
    #[case(rolling(12, 12), date!(2022 - 12 - 31), date!(2023 - 01 - 01), date!(2023 - 12 - 31))]
    #[case(rolling(1, 1), date!(2023 - 12 - 31), date!(2024 - 01 - 01), date!(2024 - 01 - 31))]
    #[case(rolling(24, 3), date!(2022 - 01 - 05), date!(2023 - 11 - 01), date!(2024 - 01 - 31))]
    // Guangxi birthday window (May..Apr): success June 2023 → window May 2024..Apr 2025.
    #[case(CycleRule::BirthdayWindow, date!(2023 - 06 - 10), date!(2024 - 05 - 01), date!(2025 - 04 - 30))]
    #[case(CycleRule::BirthdayWindow, date!(2023 - 05 - 01), date!(2024 - 05 - 01), date!(2025 - 04 - 30))]
    #[case(CycleRule::BirthdayWindow, date!(2024 - 04 - 30), date!(2024 - 05 - 01), date!(2025 - 04 - 30))]
    fn next_after_success_cases(
        #[case] rule: CycleRule,
        #[case] success: Date,
        #[case] opens_on: Date,
        #[case] deadline: Date,
    ) {
        assert_eq!(
            rule.next_after_success(success, BDAY),
            NextDue { opens_on, deadline }
        );
    }

    #[rstest]
    // Seed: March 2022 success, certified until the open window (Jan 2023).
    #[case(Y12, date!(2022 - 03 - 31), CertStatus::Certified { on: date!(2022 - 03 - 15), next: NextDue { opens_on: date!(2023 - 01 - 01), deadline: date!(2023 - 03 - 31) } })]
    #[case(Y12, date!(2022 - 12 - 31), CertStatus::Certified { on: date!(2022 - 03 - 15), next: NextDue { opens_on: date!(2023 - 01 - 01), deadline: date!(2023 - 03 - 31) } })]
    #[case(Y12, date!(2023 - 01 - 01), CertStatus::Due { deadline: date!(2023 - 03 - 31) })]
    #[case(Y12, date!(2023 - 03 - 31), CertStatus::Due { deadline: date!(2023 - 03 - 31) })]
    #[case(Y12, date!(2023 - 04 - 02), CertStatus::Overdue { deadline: date!(2023 - 03 - 31), months: 1 })]
    #[case(Y12, date!(2023 - 05 - 10), CertStatus::Overdue { deadline: date!(2023 - 03 - 31), months: 2 })]
    #[case(Y12, date!(2024 - 03 - 01), CertStatus::Overdue { deadline: date!(2023 - 03 - 31), months: 12 })]
    // open_months == months: open from the month after success; success month still Certified.
    #[case(rolling(12, 12), date!(2022 - 03 - 31), CertStatus::Certified { on: date!(2022 - 03 - 15), next: NextDue { opens_on: date!(2022 - 04 - 01), deadline: date!(2023 - 03 - 31) } })]
    #[case(rolling(12, 12), date!(2022 - 04 - 01), CertStatus::Due { deadline: date!(2023 - 03 - 31) })]
    // Dependants: 6 months, open 2.
    #[case(D6, date!(2022 - 07 - 31), CertStatus::Certified { on: date!(2022 - 03 - 15), next: NextDue { opens_on: date!(2022 - 08 - 01), deadline: date!(2022 - 09 - 30) } })]
    #[case(D6, date!(2022 - 08 - 01), CertStatus::Due { deadline: date!(2022 - 09 - 30) })]
    #[case(D6, date!(2022 - 10 - 01), CertStatus::Overdue { deadline: date!(2022 - 09 - 30), months: 1 })]
    fn rolling_status_after_success(
        #[case] rule: CycleRule,
        #[case] today: Date,
        #[case] expected: CertStatus,
    ) {
        let h = hist(date!(2015 - 07 - 01), Some(date!(2022 - 03 - 15)));
        assert_eq!(rule.status(&h, today), expected);
    }

    #[rstest]
    // Approved 2021-05-20: first cycle June 2021..May 2022.
    #[case(Y12, date!(2021 - 05 - 31), CertStatus::NotOpenYet { opens_on: date!(2021 - 06 - 01) })]
    #[case(Y12, date!(2021 - 06 - 01), CertStatus::Due { deadline: date!(2022 - 05 - 31) })]
    #[case(Y12, date!(2022 - 05 - 31), CertStatus::Due { deadline: date!(2022 - 05 - 31) })]
    #[case(Y12, date!(2022 - 06 - 01), CertStatus::Overdue { deadline: date!(2022 - 05 - 31), months: 1 })]
    #[case(D6, date!(2021 - 05 - 20), CertStatus::NotOpenYet { opens_on: date!(2021 - 06 - 01) })]
    #[case(D6, date!(2021 - 11 - 30), CertStatus::Due { deadline: date!(2021 - 11 - 30) })]
    #[case(D6, date!(2022 - 01 - 15), CertStatus::Overdue { deadline: date!(2021 - 11 - 30), months: 2 })]
    // Birthday May: month after approval = June 2021, window May 2021..Apr 2022.
    #[case(CycleRule::BirthdayWindow, date!(2021 - 05 - 25), CertStatus::NotOpenYet { opens_on: date!(2021 - 06 - 01) })]
    #[case(CycleRule::BirthdayWindow, date!(2021 - 06 - 01), CertStatus::Due { deadline: date!(2022 - 04 - 30) })]
    #[case(CycleRule::BirthdayWindow, date!(2022 - 05 - 01), CertStatus::Overdue { deadline: date!(2022 - 04 - 30), months: 1 })]
    fn first_cycle(#[case] rule: CycleRule, #[case] today: Date, #[case] expected: CertStatus) {
        let h = hist(date!(2021 - 05 - 20), None);
        assert_eq!(rule.status(&h, today), expected);
    }

    #[test]
    fn birthday_first_window_when_approved_month_before_birthday() {
        // Approved March 2023, birthday May: April 2023 lies in window May 2022..Apr 2023.
        let h = hist(date!(2023 - 03 - 10), None);
        assert_eq!(
            CycleRule::BirthdayWindow.status(&h, date!(2023 - 04 - 10)),
            CertStatus::Due {
                deadline: date!(2023 - 04 - 30)
            }
        );
    }

    #[rstest]
    #[case(date!(2023 - 06 - 10), CertStatus::Certified { on: date!(2023 - 06 - 10), next: NextDue { opens_on: date!(2024 - 05 - 01), deadline: date!(2025 - 04 - 30) } })]
    #[case(date!(2024 - 04 - 30), CertStatus::Certified { on: date!(2023 - 06 - 10), next: NextDue { opens_on: date!(2024 - 05 - 01), deadline: date!(2025 - 04 - 30) } })]
    #[case(date!(2024 - 05 - 01), CertStatus::Due { deadline: date!(2025 - 04 - 30) })]
    #[case(date!(2025 - 04 - 30), CertStatus::Due { deadline: date!(2025 - 04 - 30) })]
    #[case(date!(2025 - 05 - 01), CertStatus::Overdue { deadline: date!(2025 - 04 - 30), months: 1 })]
    #[case(date!(2025 - 07 - 31), CertStatus::Overdue { deadline: date!(2025 - 04 - 30), months: 3 })]
    fn birthday_window_status(#[case] today: Date, #[case] expected: CertStatus) {
        let h = hist(date!(2010 - 01 - 01), Some(date!(2023 - 06 - 10)));
        assert_eq!(CycleRule::BirthdayWindow.status(&h, today), expected);
    }

    #[rstest]
    // January birthday: windows Jan..Dec.
    #[case(date!(1948 - 01 - 31), date!(2023 - 01 - 01), date!(2024 - 01 - 01), date!(2024 - 12 - 31))]
    #[case(date!(1948 - 01 - 31), date!(2023 - 12 - 31), date!(2024 - 01 - 01), date!(2024 - 12 - 31))]
    // December birthday: windows Dec..Nov.
    #[case(date!(1948 - 12 - 01), date!(2023 - 11 - 30), date!(2023 - 12 - 01), date!(2024 - 11 - 30))]
    // Feb 29 birthday: only the month matters; windows Feb..Jan.
    #[case(date!(1952 - 02 - 29), date!(2023 - 02 - 28), date!(2024 - 02 - 01), date!(2025 - 01 - 31))]
    #[case(date!(1952 - 02 - 29), date!(2023 - 01 - 31), date!(2023 - 02 - 01), date!(2024 - 01 - 31))]
    // March birthday: window ends in (leap) February.
    #[case(date!(1952 - 03 - 03), date!(2022 - 03 - 01), date!(2023 - 03 - 01), date!(2024 - 02 - 29))]
    #[case(date!(1952 - 03 - 03), date!(2021 - 03 - 01), date!(2022 - 03 - 01), date!(2023 - 02 - 28))]
    fn birthday_window_edges(
        #[case] birth: Date,
        #[case] success: Date,
        #[case] opens_on: Date,
        #[case] deadline: Date,
    ) {
        assert_eq!(
            CycleRule::BirthdayWindow.next_after_success(success, birth),
            NextDue { opens_on, deadline }
        );
    }

    #[test]
    fn saturates_at_date_max() {
        let next = Y12.next_after_success(Date::MAX, BDAY);
        assert_eq!(next.deadline, Date::MAX);
        let h = hist(Date::MAX, None);
        assert_eq!(
            CycleRule::BirthdayWindow.status(&h, date!(9999 - 12 - 30)),
            CertStatus::NotOpenYet {
                opens_on: Date::MAX
            }
        );
        assert_eq!(
            Y12.status(&hist(Date::MIN, Some(Date::MIN)), Date::MAX),
            CertStatus::Overdue {
                deadline: last_of(month_index(Date::MIN) + 12),
                months: u32::try_from(month_index(Date::MAX) - month_index(Date::MIN) - 12)
                    .unwrap_or(0),
            }
        );
    }

    #[test]
    fn unvalidated_rules_are_clamped() {
        let s = date!(2022 - 03 - 15);
        // open_months 0 and > months behave as 1 and months.
        assert_eq!(
            rolling(12, 0).next_after_success(s, BDAY),
            rolling(12, 1).next_after_success(s, BDAY)
        );
        assert_eq!(
            rolling(12, 99).next_after_success(s, BDAY),
            rolling(12, 12).next_after_success(s, BDAY)
        );
        assert_eq!(
            rolling(0, 0).next_after_success(s, BDAY).deadline,
            date!(2022 - 04 - 30)
        );
    }

    #[rstest]
    #[case(rolling(12, 3), Ok(()))]
    #[case(rolling(1, 1), Ok(()))]
    #[case(rolling(24, 24), Ok(()))]
    #[case(CycleRule::BirthdayWindow, Ok(()))]
    #[case(rolling(0, 0), Err(RuleError::MonthsOutOfRange { months: 0 }))]
    #[case(rolling(25, 3), Err(RuleError::MonthsOutOfRange { months: 25 }))]
    #[case(rolling(12, 0), Err(RuleError::OpenMonthsOutOfRange { months: 12, open_months: 0 }))]
    #[case(rolling(6, 7), Err(RuleError::OpenMonthsOutOfRange { months: 6, open_months: 7 }))]
    fn validate_rule(#[case] rule: CycleRule, #[case] expected: Result<(), RuleError>) {
        assert_eq!(rule.validate(), expected);
    }

    fn entry(benefit: BenefitType, prefix: &str, rule: CycleRule) -> RuleEntry {
        RuleEntry {
            benefit,
            region_prefix: prefix.to_owned(),
            rule,
        }
    }

    #[rstest]
    #[case(BenefitType::Pension, "450403", Ok(rolling(12, 1)))]
    #[case(BenefitType::Pension, "450100", Ok(CycleRule::BirthdayWindow))]
    #[case(BenefitType::Pension, "110105", Ok(Y12))]
    #[case(BenefitType::Pension, "", Ok(Y12))]
    #[case(BenefitType::DependantRelief, "450403", Ok(D6))]
    #[case(BenefitType::Unemployment, "450403", Err(RuleError::NoRule { benefit: BenefitType::Unemployment, region: "450403".to_owned() }))]
    fn lookup_longest_prefix(
        #[case] benefit: BenefitType,
        #[case] region: &str,
        #[case] expected: Result<CycleRule, RuleError>,
    ) {
        let table = RuleTable::new(vec![
            entry(BenefitType::Pension, "", Y12),
            entry(BenefitType::Pension, "4504", rolling(12, 1)),
            entry(BenefitType::Pension, "45", CycleRule::BirthdayWindow),
            entry(BenefitType::DependantRelief, "", D6),
        ]);
        assert_eq!(table.and_then(|t| t.lookup(benefit, region)), expected);
    }

    #[rstest]
    #[case(BenefitType::Pension, "450403", CycleRule::BirthdayWindow)]
    #[case(BenefitType::Pension, "440106", Y12)]
    #[case(BenefitType::Unemployment, "450403", Y12)]
    #[case(BenefitType::WorkInjury, "110105", Y12)]
    #[case(BenefitType::DependantRelief, "450403", D6)]
    fn builtin_table(
        #[case] benefit: BenefitType,
        #[case] region: &str,
        #[case] expected: CycleRule,
    ) {
        let table = RuleTable::builtin();
        assert_eq!(table.validate(), Ok(()));
        assert_eq!(table.lookup(benefit, region), Ok(expected));
    }

    #[rstest]
    #[case(vec![entry(BenefitType::Pension, "", rolling(30, 3))], RuleError::MonthsOutOfRange { months: 30 })]
    #[case(vec![entry(BenefitType::Pension, "4x", Y12)], RuleError::BadRegionPrefix("4x".to_owned()))]
    #[case(vec![entry(BenefitType::Pension, "4504031", Y12)], RuleError::BadRegionPrefix("4504031".to_owned()))]
    #[case(vec![entry(BenefitType::Pension, "45", Y12), entry(BenefitType::Pension, "45", D6)], RuleError::Duplicate { benefit: BenefitType::Pension, region_prefix: "45".to_owned() })]
    fn table_rejects_bad_data(#[case] entries: Vec<RuleEntry>, #[case] expected: RuleError) {
        assert_eq!(RuleTable::new(entries), Err(expected));
    }

    #[test]
    fn empty_table_lookup_is_error() {
        assert!(matches!(
            RuleTable::default().lookup(BenefitType::Pension, "110105"),
            Err(RuleError::NoRule { .. })
        ));
    }

    #[rstest]
    #[case(CertStatus::Certified { on: date!(2026 - 03 - 05), next: NextDue { opens_on: date!(2027 - 01 - 01), deadline: date!(2027 - 03 - 31) } }, "您已于2026年3月5日完成认证，下次认证时间：2027年3月31日前")]
    #[case(CertStatus::Overdue { deadline: date!(2023 - 03 - 31), months: 2 }, "您已逾期2个月未认证，待遇已暂停发放，请到社保经办窗口办理")]
    #[case(CertStatus::Due { deadline: date!(2024 - 02 - 29) }, "请您在2024年2月29日前完成本次认证")]
    #[case(CertStatus::NotOpenYet { opens_on: date!(2021 - 06 - 01) }, "您现在无需认证，2021年6月1日起可以认证")]
    fn sentences(#[case] status: CertStatus, #[case] expected: &str) {
        assert_eq!(status_sentence(&status), expected);
    }

    #[test]
    fn success_sentence_has_no_zero_padding() {
        let next = Y12.next_after_success(date!(2026 - 03 - 05), BDAY);
        assert_eq!(success_sentence(&next), "下次认证时间：2027年3月31日前");
    }

    fn arb_date() -> impl Strategy<Value = Date> {
        (date!(1990 - 01 - 01).to_julian_day()..=date!(2040 - 12 - 31).to_julian_day())
            .prop_map(|jd| Date::from_julian_day(jd).unwrap_or(Date::MIN))
    }

    proptest! {
        #[test]
        fn rolling_deadline_properties(success in arb_date(), n in 1u8..=24, open in 1u8..=24) {
            let rule = rolling(n, open.min(n));
            let next = rule.next_after_success(success, BDAY);
            let after = next.deadline.next_day();
            prop_assert!(after.is_some_and(|d| d.day() == 1), "not a month end: {}", next.deadline);
            prop_assert!(next.deadline > success);
            prop_assert!(next.opens_on > success && next.opens_on <= next.deadline);
            let h = hist(success, Some(success));
            let on_deadline = rule.status(&h, next.deadline);
            prop_assert!(!matches!(on_deadline, CertStatus::Overdue { .. }), "{:?}", on_deadline);
            let same_day = rule.status(&h, success);
            prop_assert!(matches!(same_day, CertStatus::Certified { .. }), "{:?}", same_day);
            if let Some(day_after) = after {
                prop_assert_eq!(
                    rule.status(&h, day_after),
                    CertStatus::Overdue { deadline: next.deadline, months: 1 }
                );
            }
        }

        #[test]
        fn birthday_window_properties(success in arb_date(), birth in arb_date(), today in arb_date()) {
            let rule = CycleRule::BirthdayWindow;
            let next = rule.next_after_success(success, birth);
            prop_assert_eq!(next.opens_on.month(), birth.month());
            prop_assert_eq!(next.opens_on.day(), 1);
            prop_assert!(next.deadline.next_day().is_some_and(|d| d.day() == 1 && d.month() == birth.month()));
            prop_assert!(next.opens_on > success);
            let h = CertHistory { approved_on: success, last_success: Some(success), birth_date: birth };
            // Never panics and is consistent with the next period.
            match rule.status(&h, today) {
                CertStatus::Overdue { months, .. } => prop_assert!(months >= 1 && today > next.deadline),
                CertStatus::Certified { .. } => prop_assert!(today < next.opens_on),
                CertStatus::Due { deadline } => prop_assert_eq!(deadline, next.deadline),
                CertStatus::NotOpenYet { .. } => prop_assert!(false),
            }
        }
    }
}
