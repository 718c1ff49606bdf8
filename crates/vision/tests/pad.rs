//! The optional PAD path with the test-only MiniFASNet models
//! (MODELS.md §5.4: T1 real 0.980, F1 print 0.028, F2 screen 0.333 with argmax 2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use lifecert_vision::Analyzer;

#[test]
fn minifasnet_separates_silentface_samples() {
    let (Some(models), Some(faces)) = (common::models_with_pad(), common::faces_dir()) else {
        return;
    };
    assert!(models.has_pad());
    let mut a = Analyzer::new(models);
    let mut probs = |file: &str| {
        let f = common::load(&faces, file);
        a.reset();
        let r = a.analyze(&f).unwrap();
        let p = r.primary.expect("face");
        let probs = a
            .pad_probabilities(&f, &p)
            .unwrap()
            .expect("PAD configured");
        let score = a.pad_score(&f, &p).unwrap().expect("PAD configured");
        assert_eq!(score, probs[1]);
        println!("{file}: real {:.3} probs {probs:.3?}", probs[1]);
        probs
    };
    let argmax = |p: [f32; 3]| (0..3).max_by(|&i, &j| p[i].total_cmp(&p[j])).unwrap_or(0);
    let t1 = probs("antispoof_silentface/live/image_T1.jpg");
    let f1 = probs("antispoof_silentface/spoof/image_F1.jpg");
    let f2 = probs("antispoof_silentface/spoof/image_F2.jpg");
    assert_eq!(argmax(t1), 1);
    assert!(t1[1] > 0.9, "{t1:?}");
    assert_ne!(argmax(f1), 1, "{f1:?}");
    assert!(f1[1] < 0.2, "{f1:?}");
    assert_ne!(argmax(f2), 1, "{f2:?}");
    assert!(f2[1] < 0.5, "{f2:?}");
}

#[test]
fn no_pad_model_gives_none() {
    let (Some(models), Some(faces)) = (common::models(), common::faces_dir()) else {
        return;
    };
    assert!(!models.has_pad());
    let f = common::load(&faces, "skimage_data/astronaut.png");
    let mut a = Analyzer::new(models);
    let p = a.analyze(&f).unwrap().primary.unwrap();
    assert_eq!(a.pad_score(&f, &p).unwrap(), None);
}
