//! A whole session between two stores in one process, through encoded frames: for tests,
//! simulations, benchmarks and the vectors.

use tideline_protocol::replica;
use tideline_protocol::store::Store;
use tideline_protocol::sync::{Config, Initiator, Policy, Responder, SyncError};
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};

fn store_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> SyncError {
    SyncError::Store(Box::new(error))
}

/// What one session between two local stores cost, frame by frame.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// Every frame as encoded, requests and responses alternating.
    pub frames: Vec<Vec<u8>>,
    /// Requests sent: the round trips.
    pub rounds: u32,
    /// Bytes of all requests.
    pub bytes_to_responder: usize,
    /// Bytes of all responses.
    pub bytes_to_initiator: usize,
    /// Events the initiator sent.
    pub events_to_responder: usize,
    /// Events the responder sent.
    pub events_to_initiator: usize,
    /// Bytes of the events the initiator sent, as encoded events.
    pub event_bytes_to_responder: usize,
    /// Bytes of the events the responder sent, as encoded events.
    pub event_bytes_to_initiator: usize,
}

/// Runs a whole session between two stores in this process, through encoded frames, and
/// applies what each side receives (tree, documents, inboxes). For tests, simulations,
/// benchmarks and the vectors.
pub fn reconcile<A: Store + ?Sized, B: Store + ?Sized>(
    initiator_store: &mut A,
    responder_store: &mut B,
    groups: &Groups,
    salt: Salt,
    config: Config,
) -> Result<Transcript, SyncError> {
    let mut transcript = Transcript::default();
    let mut initiator = Initiator::new(groups.clone(), salt, config);
    let responder = Responder::new(config, Policy::default());
    while let Some(request) = initiator.poll_request(&*initiator_store)? {
        let bytes = encode_frame(&Frame::Request(request));
        transcript.bytes_to_responder += bytes.len();
        transcript.frames.push(bytes);
        let admitted =
            responder.admit_trusted(&transcript.frames[transcript.frames.len() - 1], groups)?;
        let events = admitted.events();
        transcript.events_to_responder += events.len();
        transcript.event_bytes_to_responder += events
            .iter()
            .map(|event| event.bytes().len())
            .sum::<usize>();
        replica::apply(responder_store, events).map_err(store_error)?;
        let response = responder.respond(&*responder_store, &admitted)?;

        let bytes = encode_frame(&Frame::Response(response));
        transcript.bytes_to_initiator += bytes.len();
        let Frame::Response(response) = decode_frame(&bytes)? else {
            unreachable!("a response encodes as a response");
        };
        transcript.frames.push(bytes);
        let events = initiator.handle_response(response)?;
        transcript.events_to_initiator += events.len();
        transcript.event_bytes_to_initiator += events
            .iter()
            .map(|event| event.bytes().len())
            .sum::<usize>();
        replica::apply(initiator_store, &events).map_err(store_error)?;
    }
    transcript.rounds = initiator.rounds();
    Ok(transcript)
}
