//! `model-check`: numeric check of converted ONNX models in tract against golden tensors.
//!
//! ```text
//! model-check --models DIR --refs DIR [--only NAME...] [--tol X] [--tol-for NAME=X] [--json FILE]
//! ```
//!
//! `DIR/refs.txt` (refs dir) has one line per reference:
//! `NAME MODEL_PATH SHAPE N_OUTPUTS SOURCE` (SHAPE like `1,128,128,3`). The input is
//! `NAME.in.bin` and the expected outputs `NAME.out0.bin` … `NAME.out{N-1}.bin`, all raw
//! little-endian f32, outputs in the model's output order. Each reference is run on
//! `MODELS/NAME.onnx`; references whose model file is absent are skipped.
//!
//! Prints one `NAME max|diff|=…` line per checked model and a final verdict.
//! Exit status: 0 all checked models pass, 1 any model fails (including a model that does
//! not load or run), 2 usage or reference errors, or nothing was checked.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use tract_onnx::prelude::*;

type BoxResult<T> = Result<T, Box<dyn Error>>;

const DEFAULT_TOL: f32 = 2e-4;

struct Args {
    models: PathBuf,
    refs: PathBuf,
    only: Vec<String>,
    tol: f32,
    tol_for: BTreeMap<String, f32>,
    json: Option<PathBuf>,
}

struct RefLine {
    name: String,
    shape: Vec<usize>,
    n_outputs: usize,
    source: String,
}

struct OutputResult {
    index: usize,
    label: String,
    shape: Vec<usize>,
    max_abs_diff: f32,
}

struct ModelResult {
    name: String,
    file: PathBuf,
    source: String,
    tol: f32,
    /// `Err` when the model failed to load/run or its outputs do not fit the reference.
    outcome: Result<(Vec<OutputResult>, f64), String>,
}

impl ModelResult {
    fn max_abs_diff(&self) -> Option<f32> {
        match &self.outcome {
            Ok((outs, _)) => Some(outs.iter().map(|o| o.max_abs_diff).fold(0.0f32, nan_max)),
            Err(_) => None,
        }
    }

    fn passed(&self) -> bool {
        matches!(self.max_abs_diff(), Some(d) if d.is_finite() && d <= self.tol)
    }
}

/// max that propagates NaN (a NaN output must fail the check).
fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

const USAGE: &str = "usage: model-check --models DIR --refs DIR [--only NAME...] [--tol X] \
[--tol-for NAME=X] [--json FILE]";

fn parse_args() -> BoxResult<Args> {
    let mut models = None;
    let mut refs = None;
    let mut only = Vec::new();
    let mut tol = DEFAULT_TOL;
    let mut tol_for = BTreeMap::new();
    let mut json = None;
    let mut it = std::env::args().skip(1).peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--models" => models = Some(PathBuf::from(it.next().ok_or("--models needs a DIR")?)),
            "--refs" => refs = Some(PathBuf::from(it.next().ok_or("--refs needs a DIR")?)),
            "--json" => json = Some(PathBuf::from(it.next().ok_or("--json needs a FILE")?)),
            "--tol" => {
                let v = it.next().ok_or("--tol needs a value")?;
                tol = v.parse().map_err(|e| format!("bad --tol {v}: {e}"))?;
            }
            "--tol-for" => {
                let v = it.next().ok_or("--tol-for needs NAME=X")?;
                let (n, x) = v
                    .split_once('=')
                    .ok_or_else(|| format!("bad --tol-for {v}"))?;
                let x: f32 = x.parse().map_err(|e| format!("bad --tol-for {v}: {e}"))?;
                tol_for.insert(n.to_string(), x);
            }
            "--only" => {
                let mut any = false;
                while let Some(n) = it.next_if(|n| !n.starts_with("--")) {
                    only.push(n);
                    any = true;
                }
                if !any {
                    return Err("--only needs at least one NAME".into());
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    Ok(Args {
        models: models.ok_or_else(|| format!("--models is required\n{USAGE}"))?,
        refs: refs.ok_or_else(|| format!("--refs is required\n{USAGE}"))?,
        only,
        tol,
        tol_for,
        json,
    })
}

fn parse_refs(refs_dir: &Path) -> BoxResult<Vec<RefLine>> {
    let p = refs_dir.join("refs.txt");
    let text =
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            return Err(format!(
                "{}:{}: expected NAME MODEL SHAPE N [SOURCE]",
                p.display(),
                i + 1
            )
            .into());
        }
        let shape = f[2]
            .split(',')
            .map(|s| s.parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}:{}: bad shape {}: {e}", p.display(), i + 1, f[2]))?;
        let n_outputs = f[3]
            .parse::<usize>()
            .map_err(|e| format!("{}:{}: bad output count {}: {e}", p.display(), i + 1, f[3]))?;
        out.push(RefLine {
            name: f[0].to_string(),
            shape,
            n_outputs,
            source: f.get(4).map_or_else(|| "?".to_string(), |s| s.to_string()),
        });
    }
    Ok(out)
}

fn read_f32(p: &Path) -> BoxResult<Vec<f32>> {
    let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "{}: size {} is not a multiple of 4",
            p.display(),
            bytes.len()
        )
        .into());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Loads the reference tensors of one entry (errors here are reference errors, exit 2).
fn load_ref(refs_dir: &Path, r: &RefLine) -> BoxResult<(Vec<f32>, Vec<Vec<f32>>)> {
    let input = read_f32(&refs_dir.join(format!("{}.in.bin", r.name)))?;
    let want: usize = r.shape.iter().product();
    if input.len() != want {
        return Err(format!(
            "{}.in.bin has {} values, shape {:?} needs {want}",
            r.name,
            input.len(),
            r.shape
        )
        .into());
    }
    let outs = (0..r.n_outputs)
        .map(|k| read_f32(&refs_dir.join(format!("{}.out{k}.bin", r.name))))
        .collect::<BoxResult<Vec<_>>>()?;
    Ok((input, outs))
}

/// Loads and runs the model in tract and compares its outputs, in order, with the references.
fn check_model(
    file: &Path,
    shape: &[usize],
    input: Vec<f32>,
    expected: &[Vec<f32>],
) -> BoxResult<(Vec<OutputResult>, f64)> {
    let model = tract_onnx::onnx()
        .model_for_path(file)?
        .with_input_fact(0, f32::fact(shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let labels: Vec<String> = {
        let m = model.model();
        m.output_outlets()?
            .iter()
            .map(|o| {
                m.outlet_label(*o)
                    .map_or_else(|| m.node(o.node).name.clone(), str::to_string)
            })
            .collect()
    };
    let tensor = Tensor::from_shape(shape, &input)?;
    let t0 = Instant::now();
    let outputs = model.run(tvec!(tensor.into()))?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if outputs.len() != expected.len() {
        return Err(format!(
            "model has {} outputs, reference has {}",
            outputs.len(),
            expected.len()
        )
        .into());
    }
    let mut res = Vec::new();
    for (k, (got, want)) in outputs.iter().zip(expected).enumerate() {
        let view = got.to_plain_array_view::<f32>()?;
        let label = labels.get(k).cloned().unwrap_or_default();
        if view.len() != want.len() {
            return Err(format!(
                "output {k} ({label}) has {} values {:?}, reference out{k} has {}",
                view.len(),
                view.shape(),
                want.len()
            )
            .into());
        }
        let d = view
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, nan_max);
        res.push(OutputResult {
            index: k,
            label,
            shape: view.shape().to_vec(),
            max_abs_diff: d,
        });
    }
    Ok((res, ms))
}

fn write_json(path: &Path, results: &[ModelResult], all_pass: bool) -> BoxResult<()> {
    let models: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({
                "name": r.name,
                "file": r.file.display().to_string(),
                "source": r.source,
                "tolerance": r.tol,
                "pass": r.passed(),
                "max_abs_diff": r.max_abs_diff().filter(|d| d.is_finite()),
            });
            match &r.outcome {
                Ok((outs, ms)) => {
                    o["run_ms"] = serde_json::json!(ms);
                    o["outputs"] = outs
                        .iter()
                        .map(|x| {
                            serde_json::json!({"index": x.index, "name": x.label, "shape": x.shape,
                                               "max_abs_diff": if x.max_abs_diff.is_finite() { Some(x.max_abs_diff) } else { None }})
                        })
                        .collect();
                }
                Err(e) => o["error"] = serde_json::json!(e),
            }
            o
        })
        .collect();
    let doc = serde_json::json!({ "pass": all_pass, "models": models });
    let text = serde_json::to_string_pretty(&doc)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn run() -> BoxResult<bool> {
    let args = parse_args()?;
    let refs = parse_refs(&args.refs)?;
    for n in &args.only {
        if !refs.iter().any(|r| &r.name == n) {
            return Err(format!(
                "--only {n}: no such reference in {}",
                args.refs.join("refs.txt").display()
            )
            .into());
        }
    }
    let mut results = Vec::new();
    for r in &refs {
        if !args.only.is_empty() && !args.only.contains(&r.name) {
            continue;
        }
        let file = args.models.join(format!("{}.onnx", r.name));
        if !file.is_file() {
            println!("{:<34} skipped (no {})", r.name, file.display());
            continue;
        }
        let (input, expected) = load_ref(&args.refs, r)?;
        let tol = args.tol_for.get(&r.name).copied().unwrap_or(args.tol);
        let outcome = check_model(&file, &r.shape, input, &expected).map_err(|e| e.to_string());
        let res = ModelResult {
            name: r.name.clone(),
            file,
            source: r.source.clone(),
            tol,
            outcome,
        };
        match &res.outcome {
            Ok((outs, ms)) => {
                let per: Vec<String> = outs
                    .iter()
                    .map(|o| format!("{}{:?}={:.3e}", o.label, o.shape, o.max_abs_diff))
                    .collect();
                println!(
                    "{:<34} max|diff|={:.3e} tol={:.1e} vs {} {:>7.1} ms  {}  [{}]",
                    res.name,
                    res.max_abs_diff().unwrap_or(f32::NAN),
                    tol,
                    res.source,
                    ms,
                    if res.passed() { "ok" } else { "FAIL" },
                    per.join(" ")
                );
            }
            Err(e) => println!("{:<34} max|diff|=n/a FAIL: {e}", res.name),
        }
        results.push(res);
    }
    if results.is_empty() {
        return Err(format!(
            "no model checked: none of the references in {} has a model file in {}",
            args.refs.display(),
            args.models.display()
        )
        .into());
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| match r.max_abs_diff() {
            Some(d) => format!("{} (max|diff|={d:.3e} > tol {:.1e})", r.name, r.tol),
            None => format!("{} (did not load/run)", r.name),
        })
        .collect();
    let all_pass = failed.is_empty();
    if let Some(p) = &args.json {
        write_json(p, &results, all_pass)?;
    }
    if all_pass {
        println!("PASS: {} model(s) match their references", results.len());
    } else {
        println!(
            "FAIL: {} of {} model(s): {}",
            failed.len(),
            results.len(),
            failed.join(", ")
        );
    }
    Ok(all_pass)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("model-check: error: {e}");
            ExitCode::from(2)
        }
    }
}
