//! The transformation network on ONNX Runtime: its session, its I/O binding and the tensors
//! it reuses.

use image::RgbImage;
use ort::memory::Allocator;
use ort::session::{IoBinding, Session};
use ort::value::{Tensor, TensorElementType};

use crate::engine::device::Device;
use crate::engine::interface::{
    check_output_shape, padded_dims, EngineError, PixelType, Transformer, CONTENT_IMAGE,
    STYLE_EMBEDDING, STYLIZED_IMAGE,
};
use crate::models::{ModelError, ModelSet, Precision};
use crate::style::{StyleEmbedding, EMBEDDING_DIM};
use crate::tensor::{fill_nhwc_padded, nhwc_to_image, nhwc_u8_to_image};

use super::session::{check_io, session};

/// The transformation network's session and its I/O binding. The style embedding is bound
/// once per style, and the pixel tensors are allocated and the output bound once per frame
/// size, so a frame costs one copy in and one copy out, and no allocation.
pub struct OrtTransformer {
    session: Session,
    device: Device,
    precision: Precision,
    origin: String,
    /// How pixels cross the graph's boundary.
    pixel_type: PixelType,
    binding: IoBinding,
    frame: Option<FrameTensors>,
    bound_style: Option<StyleEmbedding>,
}

/// The padded input tensor of one frame size (its output tensor lives in the binding).
struct FrameTensors {
    height: usize,
    width: usize,
    input: Pixels,
}

enum Pixels {
    F32(Tensor<f32>),
    U8(Tensor<u8>),
}

impl Pixels {
    fn new(pixel_type: PixelType, height: usize, width: usize) -> Result<Self, ort::Error> {
        let shape = [1, height, width, 3];
        Ok(match pixel_type {
            PixelType::U8 => Pixels::U8(Tensor::new(&Allocator::default(), shape)?),
            PixelType::F32 => Pixels::F32(Tensor::new(&Allocator::default(), shape)?),
        })
    }
}

impl OrtTransformer {
    /// Starts the network on `device`; `None` is the fastest variant the models have there.
    pub fn new(
        models: &ModelSet,
        device: Device,
        precision: Option<Precision>,
        threads: Option<usize>,
    ) -> Result<Self, EngineError> {
        // Auto: the fastest variant the models have. On the CPU that is fp32: the int8 graph
        // spends its time rounding activations (1920x1080: 1259 -> 865 ms, 508 -> 401 MB,
        // side by side); on a GPU, fp16.
        let preferred: &[Precision] = match device {
            Device::Cpu => &[Precision::Fp32],
            _ => &[Precision::Fp16, Precision::Fp32],
        };
        let precision = precision.unwrap_or_else(|| {
            preferred
                .iter()
                .copied()
                .find(|p| models.transform_for(*p).is_some())
                .unwrap_or(Precision::Int8)
        });
        let model = models
            .transform_for(precision)
            .ok_or(EngineError::NoVariant { precision })?;
        let session = session(model, threads, device, precision, "transformation")?;
        check_io(
            &session,
            model,
            &[CONTENT_IMAGE, STYLE_EMBEDDING],
            STYLIZED_IMAGE,
        )?;
        let element = |outlets: &[ort::value::Outlet], name: &str| {
            outlets
                .iter()
                .find(|o| o.name() == name)
                .and_then(|o| o.dtype().tensor_type())
        };
        let pixel_type = match (
            element(session.inputs(), CONTENT_IMAGE),
            element(session.outputs(), STYLIZED_IMAGE),
        ) {
            (Some(TensorElementType::Float32), Some(TensorElementType::Float32)) => PixelType::F32,
            (Some(TensorElementType::Uint8), Some(TensorElementType::Uint8)) => PixelType::U8,
            (i, o) => {
                return Err(EngineError::Model(ModelError::Invalid {
                    path: model.origin.clone(),
                    role: "transformation",
                    reason: format!(
                        "its pixels are {i:?} in and {o:?} out; brushwork needs float32 or uint8, the same both ways"
                    ),
                }))
            }
        };
        let binding = session.create_binding()?;
        Ok(OrtTransformer {
            session,
            device,
            precision,
            origin: model.origin.clone(),
            pixel_type,
            binding,
            frame: None,
            bound_style: None,
        })
    }
}

impl Transformer for OrtTransformer {
    fn device(&self) -> Device {
        self.device
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn engine(&self) -> String {
        super::info().map_or_else(
            |_| "ONNX Runtime".into(),
            |i| format!("ONNX Runtime {}", i.version),
        )
    }

    fn describe_io(&self) -> Vec<String> {
        super::session::describe_io(&self.session, "transform")
    }

    fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), EngineError> {
        let (h, w) = padded_dims(content);
        if !matches!(&self.frame, Some(f) if (f.height, f.width) == (h, w)) {
            match Pixels::new(self.pixel_type, h, w)? {
                Pixels::F32(t) => self.binding.bind_output(STYLIZED_IMAGE, t)?,
                Pixels::U8(t) => self.binding.bind_output(STYLIZED_IMAGE, t)?,
            }
            self.frame = Some(FrameTensors {
                height: h,
                width: w,
                input: Pixels::new(self.pixel_type, h, w)?,
            });
        }
        let frame = self.frame.as_mut().expect("allocated above");
        // Bound again each frame: for a GPU that is the copy to the device; on the CPU the
        // binding refers to the tensor itself.
        match &mut frame.input {
            Pixels::F32(t) => {
                fill_nhwc_padded(content, t.extract_tensor_mut().1, |v| f32::from(v) / 255.0);
                self.binding.bind_input(CONTENT_IMAGE, t)?;
            }
            Pixels::U8(t) => {
                fill_nhwc_padded(content, t.extract_tensor_mut().1, |v| v);
                self.binding.bind_input(CONTENT_IMAGE, t)?;
            }
        }
        if self.bound_style.as_ref() != Some(style) {
            let embedding =
                Tensor::from_array(([1, 1, 1, EMBEDDING_DIM], style.as_slice().to_vec()))?;
            self.binding.bind_input(STYLE_EMBEDDING, &embedding)?;
            self.bound_style = Some(*style);
        }
        let outputs = self.session.run_binding(&self.binding)?;
        let result = &outputs[STYLIZED_IMAGE];
        let shape = result.shape();
        check_output_shape(&self.origin, shape, h, w)?;
        match self.pixel_type {
            PixelType::U8 => nhwc_u8_to_image(result.try_extract_tensor::<u8>()?.1, w, out),
            PixelType::F32 => nhwc_to_image(result.try_extract_tensor::<f32>()?.1, w, out),
        }
        Ok(())
    }
}
