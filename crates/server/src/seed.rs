//! `seed-demo`: the demo roster of the kiosk's demo mode (fictional names).
//! Idempotent: persons are upserted, templates only added when missing.

use lifecert_core::matching::EMBEDDING_DIM;
use lifecert_protocol::BenefitType;
use time::macros::date;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::keys::SubjectKeyer;
use crate::storage::{BenefitRow, BenefitStatus, Person, Storage, StorageError};

/// The model id of seeded demo templates.
pub const DEMO_MODEL_ID: &str = "demo-seed";

/// The ID number that is deliberately absent (not in scope).
pub const DEMO_ABSENT: &str = "110105195001010039";

/// The L2 norm of seeded demo templates: face-api/dlib descriptors are not
/// normalised; real ones measure around this.
pub const DEMO_NORM: f32 = 0.9;

/// A deterministic embedding of realistic scale (norm [`DEMO_NORM`]) for a
/// demo person; two persons' embeddings are about 1.3 apart, far beyond the
/// 0.5 threshold (tests can produce a matching or a far one from it).
pub fn demo_embedding(id_number: &str) -> Vec<f32> {
    let mut state: u64 = id_number.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut v: Vec<f32> = (0..EMBEDDING_DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x *= DEMO_NORM / norm);
    }
    v
}

/// China Standard Time (the kiosks' clock).
pub fn today_cst() -> Date {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// The demo persons for `today`: (person, has template).
pub fn demo_persons(today: Date) -> Vec<(Person, bool)> {
    let approved = date!(2015 - 01 - 01);
    let p = |id: &str, name: &str, region: &str, status, since, last: Option<Date>| Person {
        id_number: id.into(),
        name: name.into(),
        region: region.into(),
        benefits: vec![BenefitRow {
            benefit: BenefitType::Pension,
            status,
            status_since: since,
            last_certified: last,
        }],
    };
    // 330 days back: the rolling 12-month cycle is open now (due).
    let due_last = Some(today - Duration::days(330));
    let active = BenefitStatus::Active;
    vec![
        (
            p(
                "110105195203150013",
                "王小明",
                "110105",
                active,
                approved,
                due_last,
            ),
            true,
        ),
        (
            p(
                "110105194807220022",
                "李秀芳",
                "110105",
                active,
                approved,
                due_last,
            ),
            true,
        ),
        (
            p(
                "110105194611050041",
                "钱桂英",
                "110105",
                BenefitStatus::IdentityChanged,
                approved,
                due_last,
            ),
            true,
        ),
        (
            p(
                "110105194912310054",
                "孙建国",
                "110105",
                BenefitStatus::Suspended,
                date!(2026 - 04 - 01),
                None,
            ),
            true,
        ),
        (
            p(
                "450403195306080064",
                "周玉兰",
                "450403",
                BenefitStatus::Terminated,
                approved,
                None,
            ),
            true,
        ),
        (
            p(
                "110105195709180076",
                "吴振华",
                "110105",
                active,
                approved,
                Some(today - Duration::days(30)),
            ),
            true,
        ),
        (
            p(
                "110105196011200084",
                "郑强",
                "110105",
                active,
                approved,
                due_last,
            ),
            false,
        ),
    ]
}

/// Inserts the demo roster; returns how many persons were written.
pub async fn seed_demo(
    storage: &dyn Storage,
    subject: &SubjectKeyer,
    today: Date,
) -> Result<usize, StorageError> {
    let persons = demo_persons(today);
    for (person, template) in &persons {
        storage
            .upsert_person(&subject.person_key(&person.id_number), person)
            .await?;
        let key = subject.key(&person.id_number);
        if *template && storage.template(&key).await?.is_none() {
            storage
                .upsert_template(
                    &key,
                    DEMO_MODEL_ID,
                    &demo_embedding(&person.id_number),
                    OffsetDateTime::now_utc(),
                )
                .await?;
        }
    }
    Ok(persons.len())
}
