//! Graphs on OpenVINO: the segments of a tiled picture, each compiled for its window shape.

use std::time::Instant;

use ::openvino::{
    CompiledModel, Core, DeviceType, ElementType, InferRequest, PartialShape, Shape, Tensor,
};

use crate::engine::interface::{EngineError, Graph, Graphs, Input, Output, Take};
use crate::models::{ModelError, Precision};

use super::setup::{check_inputs, configured_core, failed, inference_failed};

/// The segments of a tiled picture (see `tiled`) on OpenVINO: each compiled for its window
/// shape on first use. Windows have one shape per segment whatever the picture's size (once it
/// is larger than a window), so a process compiles each segment once.
pub struct OpenVinoGraphs {
    core: Core,
    compiled: std::collections::HashMap<String, CompiledSegment>,
}

struct CompiledSegment {
    shapes: Vec<Vec<i64>>,
    _model: CompiledModel,
    request: InferRequest,
    inputs: Vec<Tensor>,
}

impl OpenVinoGraphs {
    pub fn new(precision: Precision, threads: Option<usize>) -> Result<Self, EngineError> {
        Ok(OpenVinoGraphs {
            core: configured_core(precision, threads)?,
            compiled: std::collections::HashMap::new(),
        })
    }
}

impl Graphs for OpenVinoGraphs {
    /// Nothing to do before the first run: a graph is compiled for its input shapes.
    fn load(&mut self, _graph: &Graph, _inputs: &[&str], _output: &str) -> Result<(), EngineError> {
        Ok(())
    }

    /// Compiles graph `name` for the shapes of `inputs` where they changed, runs it, and hands
    /// each of `outputs` to `take`.
    fn run(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, Input)],
        outputs: &[&str],
        take: &mut Take,
    ) -> Result<(), EngineError> {
        let name = graph.key;
        let shapes: Vec<Vec<i64>> = inputs
            .iter()
            .map(|(_, i)| i.shape().iter().map(|&d| d as i64).collect())
            .collect();
        let reshaped = |i: &Input| match i {
            Input::U8(..) => true,
            Input::F32(_, s) => s[2] > 1,
            Input::Vector(_) => false,
        };
        if self.compiled.get(name).is_none_or(|c| c.shapes != shapes) {
            let started = Instant::now();
            let bytes = (graph.model)();
            let mut model = self
                .core
                .read_model_from_buffer(&bytes.bytes, None)
                .map_err(failed)?;
            if !self.compiled.contains_key(name) {
                // A segment that disagrees with its bundle's header (a user's models directory).
                let fed: Vec<(&str, Option<&[i64]>)> = inputs
                    .iter()
                    .zip(&shapes)
                    .map(|((input, value), dims)| (*input, (!reshaped(value)).then_some(&dims[..])))
                    .collect();
                check_inputs(&model, &fed).map_err(|reason| {
                    EngineError::Model(ModelError::Invalid {
                        path: bytes.origin.clone(),
                        role: graph.role,
                        reason,
                    })
                })?;
            }
            // The windows' height and width; statistics and the style keep their shapes.
            for ((input, value), dims) in inputs.iter().zip(&shapes) {
                if reshaped(value) {
                    let shape = PartialShape::new_static(4, dims).map_err(failed)?;
                    model.reshape_input_by_name(input, &shape).map_err(failed)?;
                }
            }
            let mut compiled = self
                .core
                .compile_model(&model, DeviceType::CPU)
                .map_err(inference_failed)?;
            let mut request = compiled.create_infer_request().map_err(inference_failed)?;
            let mut tensors = Vec::new();
            for ((input, value), dims) in inputs.iter().zip(&shapes) {
                let element = match value {
                    Input::U8(..) => ElementType::U8,
                    Input::F32(..) | Input::Vector(..) => ElementType::F32,
                };
                let t = Tensor::new(element, &Shape::new(dims).map_err(failed)?)
                    .map_err(inference_failed)?;
                request.set_tensor(input, &t).map_err(inference_failed)?;
                tensors.push(t);
            }
            log::debug!(
                "OpenVINO compiled segment {name} for {} in {} ms",
                shapes.first().map_or(String::new(), |dims| dims
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join("x")),
                started.elapsed().as_millis()
            );
            self.compiled.insert(
                name.to_string(),
                CompiledSegment {
                    shapes,
                    _model: compiled,
                    request,
                    inputs: tensors,
                },
            );
        }
        let c = self.compiled.get_mut(name).expect("compiled above");
        for ((_, value), tensor) in inputs.iter().zip(c.inputs.iter_mut()) {
            match value {
                Input::U8(data, _) => tensor
                    .get_data_mut::<u8>()
                    .map_err(inference_failed)?
                    .copy_from_slice(data),
                Input::F32(data, _) | Input::Vector(data) => tensor
                    .get_data_mut::<f32>()
                    .map_err(inference_failed)?
                    .copy_from_slice(data),
            }
        }
        c.request.infer().map_err(inference_failed)?;
        for (k, output) in outputs.iter().enumerate() {
            let tensor = c.request.get_tensor(output).map_err(inference_failed)?;
            let shape = tensor.get_shape().map_err(inference_failed)?;
            let dims = shape.get_dimensions();
            match tensor.get_element_type().map_err(inference_failed)? {
                ElementType::U8 => take(
                    k,
                    Output::U8(tensor.get_data::<u8>().map_err(inference_failed)?, dims),
                )?,
                ElementType::F32 => take(
                    k,
                    Output::F32(tensor.get_data::<f32>().map_err(inference_failed)?, dims),
                )?,
                other => {
                    return Err(EngineError::OpenVino(format!(
                        "segment {name} gave {output} as {other:?}, not u8 or f32"
                    )))
                }
            }
        }
        Ok(())
    }
}
