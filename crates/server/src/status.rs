//! Pure: a person's [`PersonStatus`] on a day, and name masking.

use lifecert_core::cycle::{CertHistory, CertStatus, RuleTable};
use lifecert_protocol::PersonStatus;
use time::{Date, Duration};

use crate::storage::{BenefitStatus, Person};

/// Masks a name: keep the first and last character, `*` for each one between
/// (`王小明` → `王*明`); two characters keep the first (`赵四` → `赵*`).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [_] => "*".into(),
        [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            let mut s = String::new();
            s.push(*first);
            s.extend(std::iter::repeat_n('*', middle.len()));
            s.push(*last);
            s
        }
    }
}

/// The status of `person` (`None` = not in the roster) on `today`.
///
/// Order: identity changed, suspended, no active benefit (terminated), then
/// the active benefits by the cycle rule of their region: overdue → suspended
/// since the day after the missed deadline; due → `Due` (or `NoTemplate`);
/// otherwise certified in this cycle.
pub fn compute(
    person: Option<&Person>,
    has_template: bool,
    rules: &RuleTable,
    birth_date: Date,
    today: Date,
) -> PersonStatus {
    let Some(p) = person else {
        return PersonStatus::NotInScope;
    };
    if p.benefits.is_empty() {
        return PersonStatus::NotInScope;
    }
    if p.benefits
        .iter()
        .any(|b| b.status == BenefitStatus::IdentityChanged)
    {
        return PersonStatus::IdentityChanged;
    }
    if let Some(since) = p
        .benefits
        .iter()
        .filter(|b| b.status == BenefitStatus::Suspended)
        .map(|b| b.status_since)
        .min()
    {
        return PersonStatus::Suspended { since };
    }
    let mut due: Option<(lifecert_protocol::BenefitType, Date)> = None;
    let mut overdue: Option<Date> = None;
    let mut certified: Option<(Date, Date)> = None;
    let mut any_active = false;
    for b in p
        .benefits
        .iter()
        .filter(|b| b.status == BenefitStatus::Active)
    {
        any_active = true;
        // A benefit without a rule for the region cannot be judged: treat it
        // as due so staff see the person rather than silently skipping them.
        let Ok(rule) = rules.lookup(b.benefit, &p.region) else {
            due = Some((b.benefit, today));
            continue;
        };
        let h = CertHistory {
            approved_on: b.status_since,
            last_success: b.last_certified,
            birth_date,
        };
        match rule.status(&h, today) {
            CertStatus::Due { deadline } => {
                if due.is_none_or(|(_, d)| deadline < d) {
                    due = Some((b.benefit, deadline));
                }
            }
            CertStatus::NotOpenYet { opens_on } => {
                // First cycle not open yet: an early certification is harmless.
                let deadline = match rule.status(&h, opens_on) {
                    CertStatus::Due { deadline } => deadline,
                    _ => opens_on,
                };
                if due.is_none_or(|(_, d)| deadline < d) {
                    due = Some((b.benefit, deadline));
                }
            }
            CertStatus::Overdue { deadline, .. } => {
                let since = deadline.saturating_add(Duration::days(1));
                overdue = Some(overdue.map_or(since, |o| o.min(since)));
            }
            CertStatus::Certified { on, next } => {
                certified = Some(match certified {
                    Some((o, n)) => (o.max(on), n.min(next.deadline)),
                    None => (on, next.deadline),
                });
            }
        }
    }
    if !any_active {
        return PersonStatus::Terminated;
    }
    if let Some(since) = overdue {
        return PersonStatus::Suspended { since };
    }
    match (due, certified) {
        (Some((benefit, deadline)), _) => {
            if has_template {
                PersonStatus::Due {
                    benefit,
                    deadline,
                    region: p.region.clone(),
                    masked_name: mask_name(&p.name),
                }
            } else {
                PersonStatus::NoTemplate
            }
        }
        (None, Some((on, next_deadline))) => PersonStatus::AlreadyCertified { on, next_deadline },
        (None, None) => PersonStatus::Terminated,
    }
}

/// The audit event name of a status (for per-day counts).
pub fn event_name(s: &PersonStatus) -> &'static str {
    match s {
        PersonStatus::Due { .. } => "status.due",
        PersonStatus::NotInScope => "status.not_in_scope",
        PersonStatus::IdentityChanged => "status.identity_changed",
        PersonStatus::Suspended { .. } => "status.suspended",
        PersonStatus::Terminated => "status.terminated",
        PersonStatus::AlreadyCertified { .. } => "status.already_certified",
        PersonStatus::NoTemplate => "status.no_template",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::storage::BenefitRow;
    use lifecert_protocol::BenefitType;
    use time::macros::date;

    fn person(region: &str, rows: Vec<BenefitRow>) -> Person {
        Person {
            id_number: "110105195203150013".into(),
            name: "王小明".into(),
            region: region.into(),
            benefits: rows,
        }
    }

    fn row(status: BenefitStatus, since: Date, last: Option<Date>) -> BenefitRow {
        BenefitRow {
            benefit: BenefitType::Pension,
            status,
            status_since: since,
            last_certified: last,
        }
    }

    const BIRTH: Date = date!(1952 - 03 - 15);
    const TODAY: Date = date!(2026 - 05 - 10);

    fn status(p: Option<&Person>, template: bool) -> PersonStatus {
        compute(p, template, &RuleTable::builtin(), BIRTH, TODAY)
    }

    #[test]
    fn masking() {
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("赵四"), "赵*");
        assert_eq!(mask_name("欧阳小明"), "欧**明");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn absent_is_not_in_scope() {
        assert_eq!(status(None, true), PersonStatus::NotInScope);
        assert_eq!(
            status(Some(&person("110105", vec![])), true),
            PersonStatus::NotInScope
        );
    }

    #[test]
    fn due_with_and_without_template() {
        // Certified 2025-04-20: 12-month cycle ends 2026-04-30 → overdue on 2026-05-10.
        // Certified 2025-06-20: ends 2026-06-30, open from 2026-04-01 → due.
        let p = person(
            "110105",
            vec![row(
                BenefitStatus::Active,
                date!(2020 - 01 - 01),
                Some(date!(2025 - 06 - 20)),
            )],
        );
        assert_eq!(
            status(Some(&p), true),
            PersonStatus::Due {
                benefit: BenefitType::Pension,
                deadline: date!(2026 - 06 - 30),
                region: "110105".into(),
                masked_name: "王*明".into(),
            }
        );
        assert_eq!(status(Some(&p), false), PersonStatus::NoTemplate);
    }

    #[test]
    fn overdue_is_suspended_from_the_day_after_the_deadline() {
        let p = person(
            "110105",
            vec![row(
                BenefitStatus::Active,
                date!(2020 - 01 - 01),
                Some(date!(2025 - 04 - 20)),
            )],
        );
        assert_eq!(
            status(Some(&p), true),
            PersonStatus::Suspended {
                since: date!(2026 - 05 - 01)
            }
        );
    }

    #[test]
    fn certified_this_cycle() {
        let p = person(
            "110105",
            vec![row(
                BenefitStatus::Active,
                date!(2020 - 01 - 01),
                Some(date!(2026 - 04 - 10)),
            )],
        );
        assert_eq!(
            status(Some(&p), false),
            PersonStatus::AlreadyCertified {
                on: date!(2026 - 04 - 10),
                next_deadline: date!(2027 - 04 - 30)
            }
        );
    }

    #[test]
    fn row_states_win_in_order() {
        let since = date!(2026 - 04 - 01);
        let mk = |s| person("110105", vec![row(s, since, None)]);
        assert_eq!(
            status(Some(&mk(BenefitStatus::IdentityChanged)), true),
            PersonStatus::IdentityChanged
        );
        assert_eq!(
            status(Some(&mk(BenefitStatus::Suspended)), true),
            PersonStatus::Suspended { since }
        );
        assert_eq!(
            status(Some(&mk(BenefitStatus::Terminated)), true),
            PersonStatus::Terminated
        );
    }

    #[test]
    fn guangxi_pension_uses_birthday_window() {
        // Birthday month March; last success 2025-03-05 → window Mar 2025..Feb 2026;
        // next window Mar 2026..Feb 2027 → due on 2026-05-10 with deadline 2027-02-28.
        let p = person(
            "450403",
            vec![row(
                BenefitStatus::Active,
                date!(2020 - 01 - 01),
                Some(date!(2025 - 03 - 05)),
            )],
        );
        match status(Some(&p), true) {
            PersonStatus::Due { deadline, .. } => assert_eq!(deadline, date!(2027 - 02 - 28)),
            other => panic!("{other:?}"),
        }
    }
}
