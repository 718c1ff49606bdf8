//! A per-session runner for one model: a tract state spawned on first use
//! and kept, and an input tensor that is refilled in place every call.

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::VisionError;
use crate::models::Plan;

pub(crate) struct Runner {
    plan: Plan,
    shape: Vec<usize>,
    state: Option<TypedSimpleState>,
    /// The input tensor. It is handed to tract as a shared `TValue` and is
    /// exclusive again once the run is over, so `Arc::make_mut` refills it in
    /// place without allocating (it would clone only if tract kept a
    /// reference, which a finished plan does not).
    input: Option<Arc<Tensor>>,
    pub(crate) name: &'static str,
}

impl Runner {
    /// Infallible: the tract state and input are created on first use.
    pub(crate) fn new(plan: &Plan, shape: &[usize], name: &'static str) -> Runner {
        Runner {
            plan: plan.clone(),
            shape: shape.to_vec(),
            state: None,
            input: None,
            name,
        }
    }

    pub(crate) fn err(&self, reason: impl std::fmt::Display) -> VisionError {
        VisionError::Inference {
            model: self.name,
            reason: reason.to_string(),
        }
    }

    fn tract_err(name: &'static str) -> impl Fn(TractError) -> VisionError {
        move |e| VisionError::Inference {
            model: name,
            reason: format!("{e:#}"),
        }
    }

    /// Fills the input buffer (NHWC or NCHW as the model wants, f32) in place.
    pub(crate) fn fill<R>(&mut self, f: impl FnOnce(&mut [f32]) -> R) -> Result<R, VisionError> {
        let err = Self::tract_err(self.name);
        if self.input.is_none() {
            self.input = Some(Arc::new(Tensor::zero::<f32>(&self.shape).map_err(&err)?));
        }
        let Some(input) = self.input.as_mut() else {
            return Err(self.err("no input tensor"));
        };
        let t = Arc::make_mut(input);
        let mut view = t.try_as_plain_ram_mut().map_err(&err)?;
        let slice = view.as_slice_mut::<f32>().map_err(&err)?;
        Ok(f(slice))
    }

    /// Runs the model on the current input.
    pub(crate) fn run(&mut self) -> Result<TVec<TValue>, VisionError> {
        let err = Self::tract_err(self.name);
        let Some(input) = self.input.clone() else {
            return Err(self.err("input not filled"));
        };
        if self.state.is_none() {
            self.state = Some(self.plan.spawn().map_err(&err)?);
        }
        let Some(state) = self.state.as_mut() else {
            return Err(self.err("no model state"));
        };
        state.run(tvec![input.into_tvalue()]).map_err(&err)
    }
}

/// The `f32` contents of output `ix`, checked to hold at least `min_len` values.
pub(crate) fn output_f32<'a>(
    outputs: &'a TVec<TValue>,
    ix: usize,
    min_len: usize,
    model: &'static str,
) -> Result<&'a [f32], VisionError> {
    let err = |reason: String| VisionError::Inference { model, reason };
    let t = outputs
        .get(ix)
        .ok_or_else(|| err(format!("output {ix} missing")))?;
    let view = t.try_as_plain_ram().map_err(|e| err(format!("{e:#}")))?;
    let s = view.as_slice::<f32>().map_err(|e| err(format!("{e:#}")))?;
    if s.len() < min_len {
        return Err(err(format!(
            "output {ix} has {} values, expected {min_len}",
            s.len()
        )));
    }
    Ok(s)
}
