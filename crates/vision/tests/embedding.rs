//! Descriptor sanity: the same person is closer than different people.
//! (The full identity/ROC evaluation lives elsewhere.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use lifecert_vision::{Analyzer, Embedding, Frame};

fn embed(a: &mut Analyzer, frame: &Frame) -> Embedding {
    a.reset();
    let r = a.analyze(frame).unwrap();
    let p = r.primary.expect("a face");
    a.embed(frame, &p).unwrap()
}

#[test]
fn same_person_is_closer_than_different_people() {
    let (Some(models), Some(faces)) = (common::models(), common::faces_dir()) else {
        return;
    };
    let mut a = Analyzer::new(models);
    let mut e = |f: &str| embed(&mut a, &common::load(&faces, f));
    let obama = e("face_recognition_examples/obama/obama.jpg");
    let obama1 = e("face_recognition_examples/obama/obama1.jpg");
    let obama480 = e("face_recognition_examples/obama/obama-480p.jpg");
    let biden = e("face_recognition_examples/biden/biden2.jpg");
    let biden1 = e("face_recognition_examples/biden/biden.jpg");
    let rose1 = e("face_recognition_examples/rose_leslie/img1.jpg");
    let rose2 = e("face_recognition_examples/rose_leslie/img2.jpg");
    let kit = e("face_recognition_examples/kit_harington/johnsnow_test1.jpg");

    let genuine = [
        ("obama/obama1", obama.distance(&obama1)),
        ("obama/obama-480p", obama.distance(&obama480)),
        ("biden2/biden", biden.distance(&biden1)),
        ("rose img1/img2", rose1.distance(&rose2)),
    ];
    let impostor = [
        ("obama/biden2", obama.distance(&biden)),
        ("obama1/biden", obama1.distance(&biden1)),
        ("rose1/kit", rose1.distance(&kit)),
        ("obama/rose2", obama.distance(&rose2)),
        ("biden2/kit", biden.distance(&kit)),
    ];
    for (n, d) in genuine.iter().chain(&impostor) {
        println!("{n:<20} distance {d:.3}");
    }
    let gmax = genuine.iter().map(|g| g.1).fold(0.0, f32::max);
    let imin = impostor.iter().map(|g| g.1).fold(f32::INFINITY, f32::min);
    assert!(gmax < imin, "genuine max {gmax} >= impostor min {imin}");
    assert!(gmax < 0.6, "genuine pair beyond dlib's 0.6: {gmax}");
    // Norm sanity and determinism.
    println!("descriptor norm {:.3}", obama.norm());
    assert!(obama.norm() > 0.1 && obama.norm() < 10.0);
    let again = embed(
        &mut a,
        &common::load(&faces, "face_recognition_examples/obama/obama.jpg"),
    );
    assert!(obama.distance(&again) < 1e-4);
    // Averaging (enrolment) stays close to each member.
    let mean = Embedding::mean(&[obama, obama1, obama480]).unwrap();
    assert!(mean.distance(&obama) < gmax && mean.similarity(&obama) > mean.similarity(&biden));
}

#[test]
fn embed_is_roll_invariant() {
    let (Some(models), Some(faces)) = (common::models(), common::faces_dir()) else {
        return;
    };
    // The crop is made upright: a 90°-rotated copy gives (nearly) the same descriptor.
    let f = common::load(&faces, "face_recognition_examples/obama/obama.jpg");
    let img = image::RgbImage::from_raw(f.width, f.height, f.rgb.clone()).unwrap();
    let rot = image::imageops::rotate90(&img);
    let fr = Frame::from_rgb(rot.width(), rot.height(), rot.into_raw()).unwrap();
    let mut a = Analyzer::new(models);
    let e0 = embed(&mut a, &f);
    a.reset();
    let r = a.analyze(&fr).unwrap();
    let p = r.primary.expect("face in the rotated image");
    println!("rotated: roll {:.1}", p.roll);
    assert!((p.roll - 90.0).abs() < 10.0, "roll {}", p.roll);
    let e1 = a.embed(&fr, &p).unwrap();
    println!("rotated vs upright distance {:.3}", e0.distance(&e1));
    assert!(e0.distance(&e1) < 0.3);
}
