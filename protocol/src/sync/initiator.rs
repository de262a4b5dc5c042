//! The initiator (spec §8.2): the side that starts a session and keeps its state between
//! rounds.

use std::collections::VecDeque;

use super::budget::{FrameFill, Streamed};
use super::walk::{verify_events, Output, Push, Role, Walk};
use super::{Config, SyncError};
use crate::event::VerifiedEvent;
use crate::limits::ROUNDS_PER_SESSION_MAX;
use crate::store::ReadStore;
use crate::wire::{fingerprint, Groups, Item, Request, Response, Salt};

/// The side that starts a session and keeps its state.
///
/// Drive it with [`Initiator::poll_request`] and [`Initiator::handle_response`] until
/// `poll_request` returns `None`.
#[derive(Debug)]
pub struct Initiator {
    groups: Groups,
    salt: Salt,
    config: Config,
    queues: Queues,
    /// Items of the request whose response has not come yet.
    in_flight: Option<Vec<Item>>,
    rounds: u32,
}

/// What the initiator has yet to send (spec §8.2).
#[derive(Debug, Default)]
struct Queues {
    started: bool,
    /// Items to send, in order; unconsumed items of the last request go back to its front.
    items: VecDeque<Item>,
    /// Items of the last response, handled at the next poll, after the host has inserted the
    /// response's events.
    inbox: Vec<Item>,
    /// Events owed to the responder.
    pushes: VecDeque<Push>,
}

impl Initiator {
    /// A session over `groups`, with a salt the host drew at random.
    pub fn new(groups: Groups, salt: Salt, config: Config) -> Initiator {
        Initiator {
            groups,
            salt,
            config,
            queues: Queues::default(),
            in_flight: None,
            rounds: 0,
        }
    }

    /// How many requests have been sent.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The next request, or `None` when the session is over: both sides then hold the union.
    ///
    /// Call it first, then after each [`Initiator::handle_response`] once the events it returned
    /// are in `store`.
    pub fn poll_request<S: ReadStore + ?Sized>(
        &mut self,
        store: &S,
    ) -> Result<Option<Request>, SyncError> {
        // A host error, not the peer's; kept an error (not a panic) because callers and tests
        // rely on it.
        if self.in_flight.is_some() {
            return Err(SyncError::Unexpected(
                "poll_request before the last response was handled",
            ));
        }
        let walk = Walk::new(store, &self.groups, self.salt);
        self.queues.inbox_handle(&walk)?;
        let fill = self.queues.request_fill(&walk, self.config.budget())?;
        if fill.is_empty() {
            return Ok(None);
        }
        if self.rounds == ROUNDS_PER_SESSION_MAX {
            return Err(SyncError::TooManyRounds {
                rounds_max: ROUNDS_PER_SESSION_MAX,
            });
        }
        self.rounds += 1;
        let (items, events) = fill.finish();
        self.in_flight = Some(items.clone());
        Ok(Some(Request {
            salt: self.salt,
            groups: fingerprint(&self.salt, &self.groups.digest()),
            items,
            events,
        }))
    }

    /// Takes the response to the last request. Returns its events, checked; the host inserts
    /// them into its store before the next [`Initiator::poll_request`].
    pub fn handle_response(&mut self, response: Response) -> Result<Vec<VerifiedEvent>, SyncError> {
        // A response out of turn: the peer's error where a transport lets it send frames
        // unasked, the host's otherwise. An error either way, which tests rely on.
        let sent = self.in_flight.take().ok_or(SyncError::Unexpected(
            "a response with no request in flight",
        ))?;
        let consumed = response.consumed as usize;
        if consumed > sent.len() {
            return Err(SyncError::Unexpected(
                "a response that consumed more items than were sent",
            ));
        }
        if consumed == 0 && !sent.is_empty() {
            return Err(SyncError::Unexpected(
                "a response that consumed none of the request's items",
            ));
        }
        for item in sent.into_iter().skip(consumed).rev() {
            self.queues.items.push_front(item);
        }
        let events = verify_events(&self.groups, &response.events)?;
        self.queues.inbox = response.items;
        Ok(events)
    }
}

impl Queues {
    /// Spec §8.2 steps 1 and 2: the opening `Root` the first time, then the items of the last
    /// response, whose output joins the queues.
    fn inbox_handle<S: ReadStore + ?Sized>(&mut self, walk: &Walk<'_, S>) -> Result<(), SyncError> {
        if !self.started {
            self.started = true;
            if !walk.groups().is_empty() {
                self.items.push_back(walk.root_item()?);
            }
        }
        for item in std::mem::take(&mut self.inbox) {
            let mut out = Output::default();
            walk.handle(&item, Role::Initiator, &mut out)?;
            self.items.extend(out.items);
            self.pushes.extend(out.pushes);
        }
        Ok(())
    }

    /// Spec §8.2 step 3 and §8.6: items from the front of the queue, then events from the
    /// front of the pushes, within the budget. A push cut by the budget stays at the front,
    /// its `after` moved on.
    fn request_fill<S: ReadStore + ?Sized>(
        &mut self,
        walk: &Walk<'_, S>,
        budget: usize,
    ) -> Result<FrameFill, SyncError> {
        let mut fill = FrameFill::new(Role::Initiator, budget);
        while let Some(item) = self.items.front() {
            if !fill.item_fits(item) {
                break;
            }
            fill.item_push(self.items.pop_front().expect("front exists"));
        }
        while let Some(push) = self.pushes.front_mut() {
            if fill.is_full() && !fill.is_empty() {
                break;
            }
            match fill.push_add(walk, push)? {
                Streamed::Done => {
                    self.pushes.pop_front();
                }
                Streamed::Cut => break,
            }
        }
        Ok(fill)
    }
}
