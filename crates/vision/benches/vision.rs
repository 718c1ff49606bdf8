//! Vision benchmarks (single thread): `analyze` on a 640×480 frame (fresh
//! detection path, tracked path, and the default steady-state mix), `embed`,
//! and loading all models. Targets: analyze ≤ 12 ms, embed ≤ 10 ms,
//! load ≤ 1 s. Prints SKIP and exits 0 when models or test data are missing.
//!
//! `cargo bench -p lifecert-vision` (criterion report), then a plain median
//! summary of the same operations.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use lifecert_vision::{Analyzer, Frame, Models, PrimaryFace};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models_dir() -> PathBuf {
    std::env::var_os("LIFECERT_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"))
}

fn astronaut_path() -> PathBuf {
    std::env::var_os("LIFECERT_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/testdata"))
        .join("faces/skimage_data/astronaut.png")
}

/// The astronaut photo resized to 480×480 and letterboxed into 640×480.
fn frame_640x480(path: &Path) -> Result<Frame, String> {
    let img = image::open(path).map_err(|e| e.to_string())?.to_rgb8();
    let small = image::imageops::resize(&img, 480, 480, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::new(640, 480);
    image::imageops::overlay(&mut canvas, &small, 80, 0);
    Frame::from_rgb(640, 480, canvas.into_raw()).ok_or_else(|| "frame size".to_string())
}

fn median_ms(n: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = models_dir();
    let img = astronaut_path();
    if !dir.join("manifest.json").is_file() {
        println!(
            "SKIP: models not built in {} (run `bash models/build.sh`)",
            dir.display()
        );
        return;
    }
    if !img.is_file() {
        println!(
            "SKIP: test image {} not found (set LIFECERT_TESTDATA)",
            img.display()
        );
        return;
    }
    let models = match Models::load(&dir) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            println!("SKIP: models not loadable: {e}");
            return;
        }
    };
    let frame = match frame_640x480(&img) {
        Ok(f) => f,
        Err(e) => {
            println!("SKIP: {e}");
            return;
        }
    };
    let mut probe = Analyzer::new(models.clone());
    let face: PrimaryFace = match probe.analyze(&frame) {
        Ok(r) => match r.primary {
            Some(p) => p,
            None => {
                println!("SKIP: no face found in the benchmark frame");
                return;
            }
        },
        Err(e) => {
            println!("SKIP: {e}");
            return;
        }
    };

    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let mut detect = Analyzer::new(models.clone());
    c.bench_function("analyze_640x480_detect", |b| {
        b.iter(|| {
            detect.reset();
            black_box(detect.analyze(black_box(&frame)).ok())
        })
    });
    let mut tracked = Analyzer::new(models.clone()).with_detect_interval(u32::MAX);
    let _ = tracked.analyze(&frame);
    c.bench_function("analyze_640x480_tracked", |b| {
        b.iter(|| black_box(tracked.analyze(black_box(&frame)).ok()))
    });
    let mut steady = Analyzer::new(models.clone());
    c.bench_function("analyze_640x480_steady", |b| {
        b.iter(|| black_box(steady.analyze(black_box(&frame)).ok()))
    });
    let mut emb = Analyzer::new(models.clone());
    c.bench_function("embed", |b| {
        b.iter(|| black_box(emb.embed(black_box(&frame), &face).ok()))
    });
    {
        let mut g = c.benchmark_group("load");
        g.sample_size(10).measurement_time(Duration::from_secs(8));
        g.bench_function("load_all_models", |b| {
            b.iter(|| black_box(Models::load(&dir).ok()))
        });
        g.finish();
    }
    c.final_summary();

    // Plain medians of the same operations, for the record.
    let d = median_ms(40, || {
        detect.reset();
        black_box(detect.analyze(&frame).ok());
    });
    let t = median_ms(40, || {
        black_box(tracked.analyze(&frame).ok());
    });
    let s = median_ms(40, || {
        black_box(steady.analyze(&frame).ok());
    });
    let e = median_ms(30, || {
        black_box(emb.embed(&frame, &face).ok());
    });
    let l = median_ms(5, || {
        black_box(Models::load(&dir).ok());
    });
    println!(
        "MEDIANS (ms): analyze detect {d:.2} | analyze tracked {t:.2} | analyze steady (detect every {}th) {s:.2} | embed {e:.2} | load all models {l:.0}",
        lifecert_vision::DETECT_EVERY_N_FRAMES
    );
}
