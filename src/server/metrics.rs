//! `GET /metrics`: Prometheus' text format, from the `prometheus-client` crate.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route (`/v1/stylize`), or `other` for anything else, so that the label's values
    /// stay few whatever clients send.
    pub endpoint: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
}

type HistogramFamily = Family<JobLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<RequestLabels, Counter>,
    inference: HistogramFamily,
    pub queue_depth: Gauge,
    pub abandoned: Counter,
    pub webcam_frames: Counter,
    pub webcam_dropped: Counter,
    pub webcam_connections: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("brushwork");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status",
            requests.clone(),
        );
        let errors = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_errors",
            "HTTP requests answered with a status of 400 or more",
            errors.clone(),
        );
        let inference: HistogramFamily = Family::new_with_constructor(|| {
            // 5 ms to about 82 s.
            Histogram::new(exponential_buckets(0.005, 2.0, 15))
        });
        registry.register(
            "inference_seconds",
            "Time a stylizer spent on a job (decode, style, stylize, encode), by job",
            inference.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Requests and webcam frames waiting for a stylizer",
            queue_depth.clone(),
        );
        let abandoned = Counter::default();
        registry.register(
            "abandoned_jobs",
            "Queued jobs skipped because their client left or timed out",
            abandoned.clone(),
        );
        let webcam_frames = Counter::default();
        registry.register(
            "webcam_frames",
            "Webcam frames stylized and sent back",
            webcam_frames.clone(),
        );
        let webcam_dropped = Counter::default();
        registry.register(
            "webcam_frames_dropped",
            "Webcam frames replaced by a newer one before a stylizer was free (latest frame wins)",
            webcam_dropped.clone(),
        );
        let webcam_connections = Gauge::default();
        registry.register(
            "webcam_connections",
            "Open webcam WebSockets",
            webcam_connections.clone(),
        );
        Metrics {
            registry,
            requests,
            errors,
            inference,
            queue_depth,
            abandoned,
            webcam_frames,
            webcam_dropped,
            webcam_connections,
        }
    }

    pub fn count_request(&self, endpoint: &str, status: u16) {
        let labels = RequestLabels {
            endpoint: endpoint.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        if status >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
    }

    pub fn observe_inference(&self, job: &str, seconds: f64) {
        self.inference
            .get_or_create(&JobLabels { job: job.into() })
            .observe(seconds);
    }

    /// The text exposition, with the queue depth as of now.
    pub fn render(&self, queued: i64) -> String {
        self.queue_depth.set(queued);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
