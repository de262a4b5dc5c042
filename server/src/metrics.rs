//! The server's Prometheus metrics, served by `GET /metrics` in the OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

/// Every metric, and the registry that encodes them.
pub(crate) struct Metrics {
    registry: Registry,
    events_stored: Counter,
    sync_rounds: Counter,
    bytes_received: Counter,
    bytes_sent: Counter,
    request_duration: Family<EndpointLabels, Histogram>,
    rejected_requests: Family<CodeLabels, Counter>,
    commit_batch_events: Histogram,
    live_connections: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let events_stored = Counter::default();
        let sync_rounds = Counter::default();
        let bytes_received = Counter::default();
        let bytes_sent = Counter::default();
        let request_duration = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            // 100 µs to about 100 s.
            Histogram::new(exponential_buckets(0.0001, 4.0, 11))
        });
        let rejected_requests = Family::<CodeLabels, Counter>::default();
        // 1 to about 262 000 events.
        let commit_batch_events = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        let live_connections = Gauge::default();

        // prometheus-client adds `_total` to counter names.
        let mut registry = Registry::default();
        registry.register(
            "tideline_events_stored",
            "Events newly stored (durable), over all groups",
            events_stored.clone(),
        );
        registry.register(
            "tideline_sync_rounds",
            "Sync requests answered with a response",
            sync_rounds.clone(),
        );
        registry.register(
            "tideline_bytes_received",
            "Bytes of request bodies received",
            bytes_received.clone(),
        );
        registry.register(
            "tideline_bytes_sent",
            "Bytes of response bodies sent, live stream records included",
            bytes_sent.clone(),
        );
        registry.register(
            "tideline_request_duration_seconds",
            "Time from a request's headers to its response's headers, by endpoint",
            request_duration.clone(),
        );
        registry.register(
            "tideline_rejected_requests",
            "Requests answered with an error, by error code",
            rejected_requests.clone(),
        );
        registry.register(
            "tideline_commit_batch_events",
            "Events handed to each group commit",
            commit_batch_events.clone(),
        );
        registry.register(
            "tideline_live_connections",
            "Live streams open now",
            live_connections.clone(),
        );
        Metrics {
            registry,
            events_stored,
            sync_rounds,
            bytes_received,
            bytes_sent,
            request_duration,
            rejected_requests,
            commit_batch_events,
            live_connections,
        }
    }

    pub(crate) fn events_stored(&self, events: usize) {
        self.events_stored.inc_by(events as u64);
    }

    pub(crate) fn sync_round(&self) {
        self.sync_rounds.inc();
    }

    pub(crate) fn bytes_received(&self, bytes: usize) {
        self.bytes_received.inc_by(bytes as u64);
    }

    pub(crate) fn bytes_sent(&self, bytes: usize) {
        self.bytes_sent.inc_by(bytes as u64);
    }

    pub(crate) fn request_duration(&self, endpoint: &'static str, seconds: f64) {
        self.request_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    pub(crate) fn rejected(&self, code: &'static str) {
        self.rejected_requests
            .get_or_create(&CodeLabels { code })
            .inc();
    }

    pub(crate) fn commit_batch(&self, events: usize) {
        self.commit_batch_events.observe(events as f64);
    }

    /// Counts one live stream open until the returned guard is dropped.
    pub(crate) fn live_connection(&self) -> LiveConnectionGuard {
        self.live_connections.inc();
        LiveConnectionGuard {
            gauge: self.live_connections.clone(),
        }
    }

    /// Every metric, in the OpenMetrics text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// Keeps `tideline_live_connections` counted while a stream is open, however it ends.
pub(crate) struct LiveConnectionGuard {
    gauge: Gauge,
}

impl Drop for LiveConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
