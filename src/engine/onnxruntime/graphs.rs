//! ONNX graphs in ONNX Runtime sessions, one per graph, built on first use.

use std::collections::HashMap;

use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

use crate::engine::device::Device;
use crate::engine::interface::{EngineError, Graph, Graphs, Input, Output, Take};
use crate::models::{ModelError, Precision};

use super::session::{check_io, describe_io, session};

/// Sessions on one device and precision, by graph key.
pub struct Sessions {
    sessions: HashMap<String, Session>,
    device: Device,
    precision: Precision,
    threads: Option<usize>,
}

impl Sessions {
    pub fn new(device: Device, precision: Precision, threads: Option<usize>) -> Self {
        Sessions {
            sessions: HashMap::new(),
            device,
            precision,
            threads,
        }
    }

    /// The session of `graph`, built if it is not yet; a new one is checked to have `io`'s
    /// inputs and output.
    fn get(
        &mut self,
        graph: &Graph,
        io: Option<(&[&str], &str)>,
    ) -> Result<&mut Session, EngineError> {
        if !self.sessions.contains_key(graph.key) {
            let model = (graph.model)();
            let (threads, device, precision) = (self.threads, self.device, self.precision);
            let s = session(&model, threads, device, precision, graph.role)?;
            if let Some((inputs, output)) = io {
                check_io(&s, &model, inputs, output)?;
            }
            self.sessions.insert(graph.key.to_string(), s);
        }
        Ok(self.sessions.get_mut(graph.key).expect("built above"))
    }
}

impl Graphs for Sessions {
    fn load(&mut self, graph: &Graph, inputs: &[&str], output: &str) -> Result<(), EngineError> {
        self.get(graph, Some((inputs, output))).map(|_| ())
    }

    fn run(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, Input)],
        outputs: &[&str],
        take: &mut Take,
    ) -> Result<(), EngineError> {
        let session = self.get(graph, None)?;
        let mut feed: Vec<(&str, SessionInputValue)> = Vec::with_capacity(inputs.len());
        for (input, value) in inputs {
            let value: SessionInputValue = match value {
                Input::U8(d, s) => TensorRef::from_array_view((*s, *d))?.into(),
                Input::F32(d, s) => TensorRef::from_array_view((*s, *d))?.into(),
                Input::Vector(d) => TensorRef::from_array_view(([d.len()], *d))?.into(),
            };
            feed.push((input, value));
        }
        let results = session.run(feed)?;
        for (k, output) in outputs.iter().enumerate() {
            let value = results.get(output).ok_or_else(|| {
                EngineError::Model(ModelError::Invalid {
                    path: (graph.model)().origin,
                    role: graph.role,
                    reason: format!("graph {} has no output named {output}", graph.key),
                })
            })?;
            if let Ok((shape, data)) = value.try_extract_tensor::<u8>() {
                take(k, Output::U8(data, shape))?;
            } else {
                let (shape, data) = value.try_extract_tensor::<f32>()?;
                take(k, Output::F32(data, shape))?;
            }
        }
        Ok(())
    }

    fn describe_io(&self, key: &str, role: &str) -> Vec<String> {
        self.sessions
            .get(key)
            .map(|s| describe_io(s, role))
            .unwrap_or_default()
    }
}
