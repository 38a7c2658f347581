//! The stylizers behind the server: a fixed number of worker threads, each owning one
//! [`Stylizer`] (its own ONNX Runtime sessions, in the process' one environment), fed through one
//! bounded queue. Admission is decided before a request's body is read (see [`Pool::admit`]), so
//! at most `workers + queue` requests hold memory at once; the rest get 503 at once.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::images;
use crate::look::Look;
use crate::style::StyleEmbedding;
use crate::style_file::StyleFile;
use crate::{Stylizer, StylizerOptions};
use axum::body::Bytes;
use image::{ImageFormat, RgbImage};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::frames::{self, Frame};
use super::look_spec::LookSpec;
use super::metrics::Metrics;
use super::ServerError;

/// The longest side a WebP file can have.
const MAX_WEBP_SIDE: u32 = 16_383;

/// The largest photo a request may decode, and what a picture is scaled to.
#[derive(Debug, Clone, Copy)]
pub struct PictureLimits {
    pub max_pixels: u64,
}

/// `POST /v1/stylize`.
pub struct StylizeJob {
    pub photo: Bytes,
    pub photo_name: String,
    pub look: LookSpec,
    pub max_size: Option<u32>,
    pub format: ImageFormat,
    pub quality: u8,
}

/// `POST /v1/embed`.
pub struct EmbedJob {
    pub painting: Bytes,
    pub source: String,
    pub name: String,
}

/// One webcam frame.
pub struct FrameJob {
    pub frame: Frame,
    pub look: Look,
    /// The frame's own style embedding for strengths below 1, refreshed now and then.
    pub own: Option<StyleEmbedding>,
}

#[expect(
    clippy::large_enum_variant,
    reason = "moved once per request or frame; an embedding is 400 bytes"
)]
pub enum Work {
    Stylize(StylizeJob),
    Embed(EmbedJob),
    Frame(FrameJob),
}

/// A worker's stylizer, with the style-prediction network loaded before the first request
/// rather than during it (a server that cannot load it fails at start).
fn worker_stylizer(options: StylizerOptions) -> Result<Stylizer, crate::StylizeError> {
    let mut stylizer = Stylizer::new(options)?;
    stylizer.load_predictor()?;
    Ok(stylizer)
}

impl Work {
    fn kind(&self) -> &'static str {
        match self {
            Work::Stylize(_) => "stylize",
            Work::Embed(_) => "embed",
            Work::Frame(_) => "frame",
        }
    }
}

/// What a job made.
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per request or frame; an embedding is 400 bytes"
)]
pub enum Done {
    Image {
        bytes: Vec<u8>,
        format: ImageFormat,
        width: u32,
        height: u32,
        inference_ms: f64,
    },
    StyleFile(String),
    Frame {
        bytes: Vec<u8>,
        own: Option<StyleEmbedding>,
        inference_ms: f64,
    },
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, ApiError>>,
    /// Held until the job is done, even when its client has given up.
    _admission: Arc<Admission>,
}

/// The worker threads and the queue in front of them.
pub struct Pool {
    sender: SyncSender<Job>,
    permits: Arc<Semaphore>,
    queued: Arc<AtomicI64>,
    pub workers: usize,
    pub queue: usize,
    pub predictor_sha256: String,
    /// "cpu fp32 (onnxruntime)": what the stylizers run on.
    pub engine: String,
    /// Whether the models include the 26-preset network.
    pub has_presets: bool,
}

/// A place in the pool, taken before a request's body is read and given back when both its job
/// and its answer's body are done (share it with `Arc`).
pub struct Admission(#[expect(dead_code, reason = "held for its Drop")] OwnedSemaphorePermit);

impl Pool {
    /// Starts `workers` stylizers (each built on its own thread) and waits until all are
    /// ready, so that a bad option fails the command rather than the first request.
    pub fn start(
        options: &StylizerOptions,
        workers: usize,
        queue: usize,
        limits: PictureLimits,
        metrics: Arc<Metrics>,
    ) -> Result<Pool, ServerError> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(workers + queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicI64::new(0));
        let (ready_tx, ready_rx) = mpsc::channel();
        for i in 0..workers {
            let options = options.clone();
            let receiver = Arc::clone(&receiver);
            let ready = ready_tx.clone();
            let metrics = Arc::clone(&metrics);
            let queued = Arc::clone(&queued);
            std::thread::Builder::new()
                .name(format!("stylizer-{i}"))
                .spawn(move || match worker_stylizer(options) {
                    Ok(stylizer) => {
                        let about = (
                            stylizer.predictor_sha256().to_string(),
                            format!(
                                "{} {} ({})",
                                stylizer.device(),
                                stylizer.precision(),
                                stylizer.engine()
                            ),
                        );
                        let _ = ready.send(Ok(about));
                        // The starter counts answers; a worker that panics later must not
                        // leave it waiting on a sender kept here.
                        drop(ready);
                        let mut worker = Worker {
                            stylizer,
                            out: RgbImage::new(1, 1),
                            limits,
                        };
                        worker.serve(&receiver, &metrics, &queued);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                })?;
        }
        drop(ready_tx);
        let mut about = None;
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(a)) => about = Some(a),
                Ok(Err(e)) => return Err(ServerError::Stylizer(e)),
                Err(_) => return Err(ServerError::WorkerLost),
            }
        }
        let (predictor_sha256, engine) = about.expect("at least one worker");
        let has_presets = options.models.multistyle.is_some();
        Ok(Pool {
            sender,
            permits: Arc::new(Semaphore::new(workers + queue)),
            queued,
            workers,
            queue,
            predictor_sha256,
            engine,
            has_presets,
        })
    }

    /// A place for a request, or 503 when every stylizer is busy and the queue is full.
    pub fn admit(&self) -> Result<Admission, ApiError> {
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .map(Admission)
            .map_err(|_| {
                ApiError::busy(format!(
                    "busy: {} stylizers working and {} requests queued; retry shortly",
                    self.workers, self.queue
                ))
            })
    }

    /// A place for a webcam frame: waits for one (a webcam keeps only its latest frame, so
    /// waiting holds no more than one frame per connection).
    pub async fn admit_waiting(&self) -> Admission {
        Admission(
            Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed"),
        )
    }

    /// Requests waiting for a stylizer.
    pub fn queued(&self) -> i64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Runs `work` on the next free stylizer.
    pub async fn run(&self, admission: Arc<Admission>, work: Work) -> Result<Done, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            reply,
            _admission: admission,
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(ApiError::busy("busy: the queue is full; retry shortly"));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(ApiError::internal("the stylizers have stopped"));
            }
        }
        answer
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("a stylizer failed")))
    }
}

struct Worker {
    stylizer: Stylizer,
    /// The stylized picture, reused from request to request.
    out: RgbImage,
    limits: PictureLimits,
}

impl Worker {
    fn serve(&mut self, receiver: &Mutex<Receiver<Job>>, metrics: &Metrics, queued: &AtomicI64) {
        loop {
            let job = {
                let Ok(receiver) = receiver.lock() else {
                    return;
                };
                match receiver.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            };
            queued.fetch_sub(1, Ordering::Relaxed);
            if job.reply.is_closed() {
                // The client left or timed out while this waited: nobody wants the answer.
                metrics.abandoned.inc();
                continue;
            }
            let kind = job.work.kind();
            let start = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.run(job.work)))
                .unwrap_or_else(|_| Err(ApiError::internal("the stylizer failed on this request")));
            metrics.observe_inference(kind, start.elapsed().as_secs_f64());
            let _ = job.reply.send(result);
        }
    }

    fn run(&mut self, work: Work) -> Result<Done, ApiError> {
        let start = Instant::now();
        match work {
            Work::Stylize(job) => {
                let look = job.look.resolve(|bytes, name| self.embed(bytes, name))?;
                let mut photo = images::decode_rgb(
                    &job.photo,
                    Path::new(&job.photo_name),
                    self.limits.max_pixels,
                )?;
                if let Some(max) = job.max_size {
                    photo = crate::images::fit_within(photo, max);
                }
                if job.format == ImageFormat::WebP
                    && photo.width().max(photo.height()) > MAX_WEBP_SIDE
                {
                    return Err(ApiError::bad_request(format!(
                        "format webp: WebP holds at most {MAX_WEBP_SIDE} px a side and this picture is {}x{}; use png or jpg, or max_size",
                        photo.width(),
                        photo.height()
                    )));
                }
                self.stylizer
                    .paint_into(&photo, &look, None, &mut self.out)?;
                let inference_ms = start.elapsed().as_secs_f64() * 1e3;
                let bytes = images::encode(&self.out, job.format, job.quality)
                    .map_err(|e| ApiError::internal(format!("cannot encode the result: {e}")))?;
                Ok(Done::Image {
                    bytes,
                    format: job.format,
                    width: self.out.width(),
                    height: self.out.height(),
                    inference_ms,
                })
            }
            Work::Embed(job) => {
                let embedding = self.embed(&job.painting, &job.source)?;
                let file = StyleFile::new(
                    &job.name,
                    &job.source,
                    self.stylizer.predictor_sha256(),
                    &embedding,
                );
                Ok(Done::StyleFile(file.to_json()))
            }
            Work::Frame(job) => {
                let photo = job.frame.to_rgb()?;
                let own = if job.look.needs_own_embedding() {
                    Some(match job.own {
                        Some(o) => o,
                        None => self.stylizer.embed(&photo)?,
                    })
                } else {
                    None
                };
                self.stylizer
                    .paint_into(&photo, &job.look, own.as_ref(), &mut self.out)?;
                let inference_ms = start.elapsed().as_secs_f64() * 1e3;
                let bytes = frames::encode(&job.frame, &self.out)?;
                Ok(Done::Frame {
                    bytes,
                    own,
                    inference_ms,
                })
            }
        }
    }

    fn embed(&mut self, bytes: &[u8], name: &str) -> Result<StyleEmbedding, ApiError> {
        let painting = images::decode_rgb(bytes, Path::new(name), self.limits.max_pixels)?;
        Ok(self.stylizer.embed(&painting)?)
    }
}
